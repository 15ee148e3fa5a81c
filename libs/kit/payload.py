"""Large bodies are compressed before they enter a stream, so a long transcript fits NATS' max_payload.

Self-describing: a zlib stream starts with 0x78, a JSON text never does, so a reader needs no header (a
dead letter replayed without its headers still reads). Small bodies stay as they are.
"""

import zlib

# Bodies up to this size are stored as they are; larger ones (long transcripts) compress about tenfold.
COMPRESS_ABOVE = 1024 * 1024
# Compressed bodies are signed ElevenLabs content, but a reader still never inflates more than this.
MAX_UNPACKED = 256 * 1024 * 1024
_ZLIB_HEADER = 0x78


class PayloadTooLarge(ValueError):
    """The body inflates beyond `MAX_UNPACKED`."""


def pack(body: bytes) -> bytes:
    return zlib.compress(body, 6) if len(body) > COMPRESS_ABOVE else body


def unpack(data: bytes) -> bytes:
    if not data or data[0] != _ZLIB_HEADER:
        return data
    inflater = zlib.decompressobj()
    body = inflater.decompress(data, MAX_UNPACKED)
    if inflater.unconsumed_tail:
        raise PayloadTooLarge(f"body inflates beyond {MAX_UNPACKED} bytes")
    return body
