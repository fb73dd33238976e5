/* A child process computes and prints the sum; the parent waits for it. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) { long long a, b; scanf("%lld %lld", &a, &b); pid_t p = fork(); if (p == 0) { printf("%lld\n", a + b); return 0; } int st; waitpid(p, &st, 0); return WEXITSTATUS(st); }
