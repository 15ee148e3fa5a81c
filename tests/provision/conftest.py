"""What `ignis provision` and `ignis doctor` talk to, faked: the ElevenLabs API, a CA, an HTTPS gateway."""

import ssl
from collections.abc import AsyncIterator

import pytest
import trustme

from tests.fakes.network import Gateway, https_gateway


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def leaf(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("localhost", common_name="localhost")


@pytest.fixture(scope="session")
def ca_pem(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def server_tls(leaf: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    return context


@pytest.fixture(scope="session")
async def https_gateway_server(
    leaf: trustme.LeafCert, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Gateway]:
    async with https_gateway(leaf, tmp_path_factory.mktemp("gateway-tls")) as server:
        yield server


@pytest.fixture
def public_gateway(https_gateway_server: Gateway) -> Gateway:
    https_gateway_server.status = 200
    return https_gateway_server
