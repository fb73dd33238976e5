/* One small program per behaviour the sandbox must classify, chosen by argv[1].
 * Built by the tests with gcc; see tests/programs/probe.py for the Python twin. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Allocates and touches `mib` MiB, one byte per page. */
static void touch(long mib) {
    size_t n = (size_t)mib << 20;
    volatile char *p = malloc(n);
    if (!p) { perror("malloc"); exit(3); }
    for (size_t i = 0; i < n; i += 4096) p[i] = 1;
}

static void *touch_thread(void *arg) {
    touch((long)arg);
    return NULL;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    long n = argc > 2 ? atol(argv[2]) : 0;
    if (!strcmp(mode, "exit")) return (int)n;
    if (!strcmp(mode, "segv")) { volatile int *p = NULL; return *p; }
    if (!strcmp(mode, "fpe")) { volatile int x = 1, z = 0; x = x / z; return x; }
    if (!strcmp(mode, "abort")) abort();
    if (!strcmp(mode, "spin")) for (;;) {}
    if (!strcmp(mode, "sleep")) { for (;;) pause(); }
    if (!strcmp(mode, "busy")) {
        /* Burns n ms of CPU, then prints its own getrusage user+sys in microseconds. */
        while (cpu_seconds() < n / 1000.0) {}
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("%ld\n", (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
        return 0;
    }
    if (!strcmp(mode, "touch")) { touch(n); return 0; }
    if (!strcmp(mode, "touch-threads")) {
        pthread_t t[4];
        for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, touch_thread, (void *)(n / 4));
        for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
        return 0;
    }
    if (!strcmp(mode, "touch-fork")) {
        /* The child is OOM-killed; the parent then exits normally: still memory_limit. */
        pid_t pid = fork();
        if (pid == 0) { touch(n); _exit(0); }
        int st;
        waitpid(pid, &st, 0);
        return 0;
    }
    if (!strcmp(mode, "touch-fork-wait")) {
        /* The child is OOM-killed and the parent then waits forever: still memory_limit. */
        pid_t pid = fork();
        if (pid == 0) { touch(n); _exit(0); }
        int st;
        waitpid(pid, &st, 0);
        for (;;) pause();
    }
    if (!strcmp(mode, "flood")) {
        static char buf[65536];
        memset(buf, 'x', sizeof buf);
        for (;;) if (write(1, buf, sizeof buf) < 0) return 4;
    }
    if (!strcmp(mode, "forkbomb")) { for (;;) fork(); }
    if (!strcmp(mode, "ptrace")) { ptrace(PTRACE_TRACEME, 0, 0, 0); return 0; }
    if (!strcmp(mode, "unshare")) { unshare(CLONE_NEWUSER); return 0; }
    if (!strcmp(mode, "clone-ns")) {
        /* Namespace flags on plain clone (what unshare cannot catch). */
        long r = syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0);
        if (r == 0) _exit(0);
        return r < 0 ? 5 : 0;
    }
    if (!strcmp(mode, "mount")) {
        if (mount("none", "/tmp", "tmpfs", 0, NULL) < 0) { printf("%s\n", strerror(errno)); return 6; }
        return 0;
    }
    if (!strcmp(mode, "connect")) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0) { printf("socket: %s\n", strerror(errno)); return 7; }
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)n)};
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) { printf("connect: %s\n", strerror(errno)); return 7; }
        printf("connected\n");
        return 0;
    }
    if (!strcmp(mode, "orphan")) {
        /* Leaves a daemonized sleeper behind; the sandbox must not let it outlive the run. */
        if (fork() == 0) { setsid(); if (fork() == 0) { for (;;) pause(); } _exit(0); }
        usleep(50000);
        return 0;
    }
    if (!strcmp(mode, "write")) {
        /* Writes "ok" to the file argv[2]; prints the error otherwise. */
        FILE *f = fopen(argv[2], "w");
        if (!f) { printf("%s\n", strerror(errno)); return 8; }
        fputs("ok\n", f);
        return fclose(f) == 0 ? 0 : 8;
    }
    if (!strcmp(mode, "x32")) {
        /* getpid through the x32 ABI: a syscall number seccomp rules for x86_64 never see. */
        return (int)syscall(39 | 0x40000000);
    }
    if (!strcmp(mode, "big-file")) {
        FILE *f = fopen("/box/big", "w");
        static char buf[65536];
        for (;;) if (fwrite(buf, 1, sizeof buf, f) != sizeof buf) return 9;
    }
    if (!strcmp(mode, "raise")) {
        /* Raises signal n itself: a self-made SIGSYS, SIGXCPU or SIGXFSZ is not a limit. */
        signal((int)n, SIG_DFL);
        raise((int)n);
        return 10;
    }
    if (!strcmp(mode, "abstract-listen")) {
        /* Listens on the abstract unix socket "sbx-probe-<n>" for 6 s. */
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        int len = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "sbx-probe-%ld", n) + 1;
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        if (s < 0 || bind(s, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + len) < 0
            || listen(s, 4) < 0) { printf("listen: %s\n", strerror(errno)); return 7; }
        printf("listening\n");
        fflush(stdout);
        sleep(6);
        return 0;
    }
    if (!strcmp(mode, "abstract-connect")) {
        /* For up to 4 s: connects to "sbx-probe-<n>" and looks for it in /proc/net/unix.
           Prints "connected", or "seen: <error>" once the socket shows there and the
           connect failed, or "not seen: <error>". */
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        int len = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "sbx-probe-%ld", n) + 1;
        char name[64];
        snprintf(name, sizeof name, "@sbx-probe-%ld", n);
        int err = 0;
        for (int i = 0; i < 80; i++) {
            int s = socket(AF_UNIX, SOCK_STREAM, 0);
            if (s < 0) { printf("socket: %s\n", strerror(errno)); return 7; }
            if (connect(s, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + len) == 0) {
                printf("connected\n");
                return 0;
            }
            err = errno;
            close(s);
            int seen = 0;
            FILE *f = fopen("/proc/net/unix", "r");
            char line[512];
            while (f && fgets(line, sizeof line, f)) if (strstr(line, name)) seen = 1;
            if (f) fclose(f);
            if (seen) { printf("seen: %s\n", strerror(err)); return 0; }
            usleep(50000);
        }
        printf("not seen: %s\n", strerror(err));
        return 0;
    }
    if (!strcmp(mode, "socket")) {
        /* Tries to create a socket of family n; prints "ok" or the error. */
        int s = socket((int)n, SOCK_STREAM, 0);
        if (s < 0) s = socket((int)n, SOCK_DGRAM, 0);
        if (s < 0) s = socket((int)n, SOCK_SEQPACKET, 0);
        printf("%s\n", s < 0 ? strerror(errno) : "ok");
        return 0;
    }
    if (!strcmp(mode, "fork-count")) {
        /* Forks sleeping children until fork fails; prints how many and the error. */
        long made = 0;
        for (;;) {
            pid_t p = fork();
            if (p == 0) { pause(); _exit(0); }
            if (p < 0) { printf("%ld %s\n", made, strerror(errno)); return 0; }
            if (++made > 100000) { printf("%ld unbounded\n", made); return 0; }
        }
    }
    if (!strcmp(mode, "fill")) {
        /* Writes n MiB into /box in 1 MiB files; prints how many MiB went in and why it stopped. */
        static char buf[1 << 20];
        memset(buf, 'y', sizeof buf);
        long done = 0;
        for (long i = 0; i < n; i++) {
            char name[64];
            snprintf(name, sizeof name, "/box/fill-%ld", i);
            FILE *f = fopen(name, "w");
            if (!f) { printf("%ld %s\n", done, strerror(errno)); return 0; }
            size_t w = fwrite(buf, 1, sizeof buf, f);
            int e = fclose(f);
            if (w != sizeof buf || e != 0) { printf("%ld %s\n", done, strerror(errno)); return 0; }
            done++;
        }
        printf("%ld all\n", done);
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
