"""Just enough RTP and SRTP (RFC 3550, RFC 3711: AES_CM_128_HMAC_SHA1_80, rollover counter 0) for the
tests to prove that what leaves the bridge towards ElevenLabs is SRTP under the key it offered, and that
what reaches sipgate is plain RTP with the payload that was sent."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

TAG_LEN = 10  # HMAC_SHA1_80
CRYPTO = re.compile(r"a=crypto:(\d+) AES_CM_128_HMAC_SHA1_80 inline:([A-Za-z0-9+/=]+)")


def _aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def rtp(seq: int, timestamp: int, ssrc: int, payload: bytes, payload_type: int = 8) -> bytes:
    return struct.pack("!BBHII", 0x80, payload_type, seq, timestamp, ssrc) + payload


@dataclass(frozen=True)
class SrtpKey:
    """An SDES master key and salt, and the session keys derived from them (RFC 3711 4.3, kdr 0)."""

    master_key: bytes
    master_salt: bytes

    @classmethod
    def from_inline(cls, inline: str) -> SrtpKey:
        raw = base64.b64decode(inline.split("|")[0])
        return cls(raw[:16], raw[16:30])

    @classmethod
    def from_sdp(cls, sdp: str) -> SrtpKey:
        match = CRYPTO.search(sdp)
        assert match, f"no AES_CM_128_HMAC_SHA1_80 a=crypto line in\n{sdp}"
        return cls.from_inline(match.group(2))

    def inline(self) -> str:
        return base64.b64encode(self.master_key + self.master_salt).decode()

    def _derive(self, label: int, length: int) -> bytes:
        x = bytearray(self.master_salt)
        x[7] ^= label  # key_id = label || 48-bit index 0, right-aligned against the 112-bit salt
        return _aes_ctr(self.master_key, bytes(x) + b"\0\0", b"\0" * length)

    def _session(self) -> tuple[bytes, bytes, bytes]:
        return self._derive(0, 16), self._derive(1, 20), self._derive(2, 14)

    def _iv(self, salt: bytes, ssrc: int, seq: int) -> bytes:
        iv = bytearray(salt + b"\0\0")
        for i, b in enumerate(struct.pack("!I", ssrc)):
            iv[4 + i] ^= b
        for i, b in enumerate(struct.pack("!Q", seq)[2:]):  # index = ROC (0) * 2^16 + SEQ, 48 bits
            iv[8 + i] ^= b
        return bytes(iv)

    def protect(self, packet: bytes) -> bytes:
        enc, auth, salt = self._session()
        seq, ssrc = struct.unpack("!H", packet[2:4])[0], struct.unpack("!I", packet[8:12])[0]
        body = packet[:12] + _aes_ctr(enc, self._iv(salt, ssrc, seq), packet[12:])
        return body + hmac.new(auth, body + b"\0\0\0\0", hashlib.sha1).digest()[:TAG_LEN]

    def unprotect(self, packet: bytes) -> bytes:
        """The plain RTP packet; AssertionError when the authentication tag does not match this key."""
        enc, auth, salt = self._session()
        body, tag = packet[:-TAG_LEN], packet[-TAG_LEN:]
        expected = hmac.new(auth, body + b"\0\0\0\0", hashlib.sha1).digest()[:TAG_LEN]
        assert hmac.compare_digest(tag, expected), "SRTP authentication failed: not SRTP under this key"
        seq, ssrc = struct.unpack("!H", body[2:4])[0], struct.unpack("!I", body[8:12])[0]
        return body[:12] + _aes_ctr(enc, self._iv(salt, ssrc, seq), body[12:])
