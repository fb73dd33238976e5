/* Output validator for A plus B (ICPC interface): validate input answer feedback_dir < output;
 * exit 42 when the team printed the right sum, 43 otherwise with a judgemessage. */
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    FILE *ans = fopen(argv[2], "r");
    long want, got;
    if (!ans || fscanf(ans, "%ld", &want) != 1) return 1;
    if (scanf("%ld", &got) != 1) { char p[512]; snprintf(p, sizeof p, "%s/judgemessage.txt", argv[3]); FILE *m = fopen(p, "w"); if (m) { fputs("no number\n", m); fclose(m); } return 43; }
    if (got != want) { char p[512]; snprintf(p, sizeof p, "%s/judgemessage.txt", argv[3]); FILE *m = fopen(p, "w"); if (m) { fprintf(m, "expected %ld got %ld\n", want, got); fclose(m); } return 43; }
    return 42;
}
