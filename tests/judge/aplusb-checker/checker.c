/* A testlib-style checker for A plus B: checker input output answer. Exit 0 when the
 * output's first number is the answer's, 1 (wrong answer) with a message otherwise. */
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc < 4) return 3;
    FILE *out = fopen(argv[2], "r"), *ans = fopen(argv[3], "r");
    long got, want;
    if (!ans || fscanf(ans, "%ld", &want) != 1) { fprintf(stderr, "bad answer file\n"); return 3; }
    if (!out || fscanf(out, "%ld", &got) != 1) { fprintf(stderr, "no sum printed\n"); return 1; }
    if (got != want) { fprintf(stderr, "sum %ld differs from the expected %ld\n", got, want); return 1; }
    return 0;
}
