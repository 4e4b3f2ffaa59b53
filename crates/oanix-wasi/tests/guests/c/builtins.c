/*
 * The one compiler builtin wasi-libc needs that the C guests use: the
 * checked 128-bit multiplication behind futimens/utimensat (converting a
 * timespec to nanoseconds). It comes with the compiler's runtime library
 * (Debian's libclang-rt-*-dev-wasm32), which the guests do without: they
 * are linked with -nodefaultlibs and this file instead. Written on 64-bit
 * halves, since a 128-bit multiplication would itself call a builtin.
 */

#include <stdint.h>

typedef __int128 ti_int;
typedef unsigned __int128 tu_int;

/* The 128-bit product of two 64-bit numbers, as (hi, lo). */
static void mul64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo) {
    uint64_t a0 = a & 0xffffffffu, a1 = a >> 32;
    uint64_t b0 = b & 0xffffffffu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    *lo = (p00 & 0xffffffffu) | (mid << 32);
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/* a * b; *overflow is set when the product does not fit in 128 bits. */
ti_int __muloti4(ti_int a, ti_int b, int *overflow) {
    int negative = (a < 0) != (b < 0);
    tu_int ua = a < 0 ? -(tu_int)a : (tu_int)a;
    tu_int ub = b < 0 ? -(tu_int)b : (tu_int)b;
    uint64_t ah = (uint64_t)(ua >> 64), al = (uint64_t)ua;
    uint64_t bh = (uint64_t)(ub >> 64), bl = (uint64_t)ub;
    uint64_t hi, lo, cross_hi, cross_lo;
    *overflow = 0;
    if (ah != 0 && bh != 0) {
        *overflow = 1;
    }
    mul64(al, bl, &hi, &lo);
    if (ah != 0) {
        mul64(ah, bl, &cross_hi, &cross_lo);
        if (cross_hi != 0 || hi + cross_lo < hi) {
            *overflow = 1;
        }
        hi += cross_lo;
    }
    if (bh != 0) {
        mul64(al, bh, &cross_hi, &cross_lo);
        if (cross_hi != 0 || hi + cross_lo < hi) {
            *overflow = 1;
        }
        hi += cross_lo;
    }
    tu_int product = ((tu_int)hi << 64) | lo;
    tu_int limit = (tu_int)1 << 127;
    if (negative ? product > limit : product >= limit) {
        *overflow = 1;
    }
    return negative ? (ti_int)(-product) : (ti_int)product;
}
