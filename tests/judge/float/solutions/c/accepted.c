/* Prints the quotient in scientific notation: still a number within 1e-6. */
#include <stdio.h>
int main(void) { double a, b; scanf("%lf %lf", &a, &b); printf("%.9e\n", a / b); return 0; }
