/* testlib-style checker for "print two integers whose sum is n": checker input output answer.
 * Exit 0 accepted, 1 wrong answer (with a reason on stderr), 2 presentation error when more
 * than two numbers are printed, 3 when the input itself is unreadable. */
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc < 4) return 3;
    FILE *in = fopen(argv[1], "r"), *out = fopen(argv[2], "r");
    long long n, x, y, extra;
    if (!in || fscanf(in, "%lld", &n) != 1) { fprintf(stderr, "unreadable input\n"); return 3; }
    if (!out || fscanf(out, "%lld %lld", &x, &y) != 2) { fprintf(stderr, "two integers expected\n"); return 1; }
    if (x + y != n) { fprintf(stderr, "the numbers add up to %lld, not %lld\n", x + y, n); return 1; }
    if (fscanf(out, "%lld", &extra) == 1) { fprintf(stderr, "more than two numbers\n"); return 2; }
    return 0;
}
