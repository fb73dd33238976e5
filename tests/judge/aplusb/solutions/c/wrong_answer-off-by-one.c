/* Right on the first test only ("1 2"): off by one everywhere else, so judging stops at test 2. */
#include <stdio.h>
int main(void) { long long a, b; scanf("%lld %lld", &a, &b); printf("%lld\n", a == 1 && b == 2 ? a + b : a + b + 1); return 0; }
