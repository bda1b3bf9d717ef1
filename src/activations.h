/* activations.h: exp, sigmoid and tanh written so that the compiler can
 * vectorise loops over them (plain float arithmetic and bit operations, no
 * libm calls, which GCC will not vectorise without -ffast-math).
 *
 * rnn_expf: e^x = 2^n * e^r with n = round(x / ln 2) (to nearest even), |r| <= ln2 / 2, and e^r
 * from its degree-6 Taylor polynomial (relative error < 2e-7 over the float
 * range; inputs are clamped to [-87, 88] so 2^n stays a normal float).
 * sigmoid and tanh follow from it: tanh(x) = 2 sigmoid(2x) - 1, with tanh's
 * Taylor series for |x| < 0.2, where that subtraction would lose relative
 * precision. Tested against libm in tests/test_layers.c.
 */
#ifndef RNN_ACTIVATIONS_H
#define RNN_ACTIVATIONS_H

#include <stdint.h>
#include <string.h>

static inline float rnn_expf(float x) {
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    /* n = round(x / ln 2) by adding and removing 1.5 * 2^23, which leaves
     * no fraction bits: plain arithmetic that vectorises (a roundf call
     * kept whole loops scalar). Exact for |x / ln 2| < 2^22. */
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    /* r = x - n ln2, with ln2 split in two for precision (Cody-Waite). */
    const float r = (x - n * 0.693145751953125f) - n * 1.428606765330187e-06f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float rnn_sigmoidf(float x) { return 1.0f / (1.0f + rnn_expf(-x)); }

static inline float rnn_tanhf(float x) {
    float ax = x < 0 ? -x : x, x2 = x * x;
    /* Taylor series to x^9 (error < 1e-9 relative for |x| < 0.2). */
    float small = x * (1.0f + x2 * (-1.0f / 3.0f + x2 * (2.0f / 15.0f + x2 * (-17.0f / 315.0f +
                                                                            x2 * (62.0f / 2835.0f)))));
    float big = 2.0f / (1.0f + rnn_expf(-2.0f * x)) - 1.0f;
    return ax < 0.2f ? small : big;
}

#endif
