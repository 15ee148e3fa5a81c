"""The local ElevenLabs fake, one server for the session, its state wiped around every test."""

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.fakes.elevenlabs import FakeElevenLabs, running_fake_elevenlabs


@pytest.fixture(scope="session")
async def elevenlabs_server() -> AsyncIterator[FakeElevenLabs]:
    async with running_fake_elevenlabs() as server:
        yield server


@pytest.fixture
def elevenlabs(elevenlabs_server: FakeElevenLabs) -> Iterator[FakeElevenLabs]:
    """The fake, empty: no secrets, tools, agents, webhooks or numbers; default settings; no requests."""
    elevenlabs_server.reset()
    yield elevenlabs_server
    elevenlabs_server.reset()
