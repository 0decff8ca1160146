/*
 * The C baseline for Ristretto's FFM ioctl cost: times N calls of
 * ioctl(/dev/kvm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY), the cheapest KVM ioctl, and prints
 * nanoseconds per call. Built and run by bench/run.sh next to the Java figure.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        perror("open /dev/kvm");
        return 1;
    }
    long sink = 0;
    for (long i = 0; i < n / 10; i++) { /* warm-up */
        sink += ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY);
    }
    double best = 1e30;
    for (int round = 0; round < 5; round++) {
        double t0 = now_ns();
        for (long i = 0; i < n; i++) {
            sink += ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY);
        }
        double per = (now_ns() - t0) / n;
        if (per < best) {
            best = per;
        }
    }
    printf("%.1f\n", best);
    close(fd);
    return sink == 0; /* keep the calls from being optimised away */
}
