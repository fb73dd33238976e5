/* Computes the sum in a second thread. */
#include <pthread.h>
#include <stdio.h>
static long long a, b, s;
static void *add(void *arg) { (void)arg; s = a + b; return NULL; }
int main(void) { pthread_t t; scanf("%lld %lld", &a, &b); pthread_create(&t, NULL, add, NULL); pthread_join(t, NULL); printf("%lld\n", s); return 0; }
