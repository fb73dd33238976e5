/* Allocates and touches 1 GiB, a page at a time. */
#include <stdlib.h>
int main(void) { size_t n = (size_t)1 << 30; char *p = malloc(n); if (!p) return 3; for (size_t i = 0; i < n; i += 4096) p[i] = 1; return p[4096]; }
