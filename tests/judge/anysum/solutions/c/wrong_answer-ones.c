/* Always prints 1 1: right only when n = 2, which no test has. */
#include <stdio.h>
int main(void) { puts("1 1"); return 0; }
