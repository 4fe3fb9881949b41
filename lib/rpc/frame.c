/* Frame header serialisation, AEAD sealing and signatures. */
#include "frame.h"

#include <sodium.h>
#include <string.h>

void berth_frame_header_write(const berth_frame_header *h, uint8_t out[BERTH_FRAME_HEADER_LEN])
{
    out[0] = h->version;
    out[1] = h->kind;
    out[2] = h->channel;
    out[3] = h->flags;
    memcpy(out + 4, h->recipient, BERTH_ID_LEN);
    memcpy(out + 20, h->sender, BERTH_ID_LEN);
    memcpy(out + 36, h->key_id, BERTH_KEYID_LEN);
    berth_put_be64(out + 44, (uint64_t)h->timestamp_ns);
    berth_put_be64(out + 52, h->counter);
}

int berth_frame_header_read(const uint8_t *buf, size_t len, berth_frame_header *ret_h)
{
    if (len < BERTH_FRAME_HEADER_LEN)
        return -1;
    ret_h->version = buf[0];
    ret_h->kind = buf[1];
    ret_h->channel = buf[2];
    ret_h->flags = buf[3];
    memcpy(ret_h->recipient, buf + 4, BERTH_ID_LEN);
    memcpy(ret_h->sender, buf + 20, BERTH_ID_LEN);
    memcpy(ret_h->key_id, buf + 36, BERTH_KEYID_LEN);
    ret_h->timestamp_ns = (int64_t)berth_get_be64(buf + 44);
    ret_h->counter = berth_get_be64(buf + 52);
    return 0;
}

static void frame_nonce(uint64_t counter,
                        uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES])
{
    memset(nonce, 0, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    berth_put_be64(nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES - 8, counter);
}

size_t berth_frame_seal(uint8_t *frame, size_t plain_len, const uint8_t key[32], uint64_t counter)
{
    uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    uint8_t *m = frame + BERTH_FRAME_HEADER_LEN;
    unsigned long long clen = 0;

    frame_nonce(counter, nonce);
    crypto_aead_xchacha20poly1305_ietf_encrypt(m, &clen, m, plain_len, frame,
                                               BERTH_FRAME_HEADER_LEN, NULL, nonce, key);
    return BERTH_FRAME_HEADER_LEN + (size_t)clen;
}

int berth_frame_unseal(uint8_t *frame, size_t len, const uint8_t key[32], uint64_t counter,
                       size_t *ret_len)
{
    uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    uint8_t *c = frame + BERTH_FRAME_HEADER_LEN;
    unsigned long long mlen = 0;

    if (len < BERTH_FRAME_HEADER_LEN + BERTH_FRAME_TAG_LEN)
        return -1;
    frame_nonce(counter, nonce);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(c, &mlen, NULL, c, len - BERTH_FRAME_HEADER_LEN,
                                                   frame, BERTH_FRAME_HEADER_LEN, nonce, key) != 0)
        return -1;
    *ret_len = (size_t)mlen;
    return 0;
}

size_t berth_frame_sign(uint8_t *frame, size_t payload_len, const uint8_t sk[BERTH_SECKEY_LEN])
{
    size_t len = BERTH_FRAME_HEADER_LEN + payload_len;

    crypto_sign_detached(frame + len, NULL, frame, len, sk);
    return len + BERTH_FRAME_SIG_LEN;
}

int berth_frame_verify(const uint8_t *frame, size_t len, const uint8_t pk[BERTH_PUBKEY_LEN])
{
    if (len < BERTH_FRAME_HEADER_LEN + BERTH_FRAME_SIG_LEN)
        return -1;
    return crypto_sign_verify_detached(frame + len - BERTH_FRAME_SIG_LEN, frame,
                                       len - BERTH_FRAME_SIG_LEN, pk) == 0
               ? 0
               : -1;
}
