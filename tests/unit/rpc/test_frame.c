/* The frame layout byte by byte, sealing and signing, and that every single
 * flipped bit of a sealed or signed frame is caught. */
#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "rpc/frame.h"

static berth_frame_header sample_header(void)
{
    berth_frame_header h = { .version = 1, .kind = BERTH_FRAME_SEALED, .channel = 3, .flags = 1 };

    for (int i = 0; i < 16; i++) {
        h.recipient[i] = (uint8_t)(0xA0 + i);
        h.sender[i] = (uint8_t)(0xB0 + i);
    }
    for (int i = 0; i < 8; i++)
        h.key_id[i] = (uint8_t)(0xC0 + i);
    h.timestamp_ns = 0x0102030405060708LL;
    h.counter = 0x1112131415161718ULL;
    return h;
}

START_TEST(header_layout_is_explicit)
{
    berth_frame_header h = sample_header(), back;
    uint8_t buf[BERTH_FRAME_HEADER_LEN];

    berth_frame_header_write(&h, buf);
    ck_assert_uint_eq(buf[0], 1);
    ck_assert_uint_eq(buf[1], BERTH_FRAME_SEALED);
    ck_assert_uint_eq(buf[2], 3);
    ck_assert_uint_eq(buf[3], 1);
    ck_assert_uint_eq(buf[4], 0xA0); /* recipient right after 4 constant bytes */
    ck_assert_uint_eq(buf[19], 0xAF);
    ck_assert_uint_eq(buf[20], 0xB0); /* sender */
    ck_assert_uint_eq(buf[36], 0xC0); /* key / session id */
    ck_assert_uint_eq(buf[44], 0x01); /* timestamp, big-endian */
    ck_assert_uint_eq(buf[51], 0x08);
    ck_assert_uint_eq(buf[52], 0x11); /* counter, big-endian */
    ck_assert_uint_eq(buf[59], 0x18);
    ck_assert_int_eq(berth_frame_header_read(buf, sizeof(buf), &back), 0);
    ck_assert_mem_eq(&back.recipient, h.recipient, 16);
    ck_assert_int_eq(back.timestamp_ns, h.timestamp_ns);
    ck_assert_uint_eq(back.counter, h.counter);
    ck_assert_int_eq(berth_frame_header_read(buf, sizeof(buf) - 1, &back), -1);
}
END_TEST

START_TEST(sealed_frames_detect_every_flipped_bit)
{
    berth_frame_header h = sample_header();
    uint8_t key[32], other[32];
    const char *msg = "start container web-1";
    size_t plen = strlen(msg), len, back_len;
    uint8_t *frame = malloc(BERTH_FRAME_HEADER_LEN + plen + BERTH_FRAME_TAG_LEN);
    uint8_t *copy = malloc(BERTH_FRAME_HEADER_LEN + plen + BERTH_FRAME_TAG_LEN);

    randombytes_buf(key, sizeof(key));
    randombytes_buf(other, sizeof(other));
    berth_frame_header_write(&h, frame);
    memcpy(frame + BERTH_FRAME_HEADER_LEN, msg, plen);
    len = berth_frame_seal(frame, plen, key, h.counter);
    ck_assert_uint_eq(len, BERTH_FRAME_HEADER_LEN + plen + BERTH_FRAME_TAG_LEN);
    /* the payload is not readable on the wire */
    ck_assert_int_ne(memcmp(frame + BERTH_FRAME_HEADER_LEN, msg, plen), 0);

    for (size_t i = 0; i < len * 8; i++) {
        memcpy(copy, frame, len);
        copy[i / 8] ^= (uint8_t)(1u << (i % 8));
        ck_assert_msg(berth_frame_unseal(copy, len, key, h.counter, &back_len) == -1,
                      "bit %zu flipped and still authentic", i);
    }
    memcpy(copy, frame, len);
    ck_assert_int_eq(berth_frame_unseal(copy, len, other, h.counter, &back_len), -1);
    memcpy(copy, frame, len);
    ck_assert_int_eq(berth_frame_unseal(copy, len, key, h.counter + 1, &back_len), -1);
    ck_assert_int_eq(berth_frame_unseal(copy, len - 1, key, h.counter, &back_len), -1);
    memcpy(copy, frame, len);
    ck_assert_int_eq(berth_frame_unseal(copy, len, key, h.counter, &back_len), 0);
    ck_assert_uint_eq(back_len, plen);
    ck_assert_mem_eq(copy + BERTH_FRAME_HEADER_LEN, msg, plen);
    free(frame);
    free(copy);
}
END_TEST

START_TEST(signed_frames_detect_every_flipped_bit)
{
    berth_frame_header h = sample_header();
    uint8_t pk[32], sk[64], pk2[32], sk2[64];
    const char *msg = "generation 42";
    size_t plen = strlen(msg), len;
    uint8_t frame[BERTH_FRAME_HEADER_LEN + 64 + BERTH_FRAME_SIG_LEN], copy[sizeof(frame)];

    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(pk2, sk2);
    h.kind = BERTH_FRAME_SIGNED;
    berth_frame_header_write(&h, frame);
    memcpy(frame + BERTH_FRAME_HEADER_LEN, msg, plen);
    len = berth_frame_sign(frame, plen, sk);
    ck_assert_uint_eq(len, BERTH_FRAME_HEADER_LEN + plen + BERTH_FRAME_SIG_LEN);
    ck_assert_int_eq(berth_frame_verify(frame, len, pk), 0);
    ck_assert_int_eq(berth_frame_verify(frame, len, pk2), -1);
    for (size_t i = 0; i < len * 8; i++) {
        memcpy(copy, frame, len);
        copy[i / 8] ^= (uint8_t)(1u << (i % 8));
        ck_assert_msg(berth_frame_verify(copy, len, pk) == -1, "bit %zu flipped and verified", i);
    }
    ck_assert_int_eq(berth_frame_verify(frame, BERTH_FRAME_HEADER_LEN + 10, pk), -1);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("rpc/frame");
    TCase *tc = tcase_create("frame");

    tcase_add_test(tc, header_layout_is_explicit);
    tcase_add_test(tc, sealed_frames_detect_every_flipped_bit);
    tcase_add_test(tc, signed_frames_detect_every_flipped_bit);
    suite_add_tcase(s, tc);
    return s;
}
