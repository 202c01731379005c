"""pytest fixtures for the fake API server (kubeapi.py).

Use in a test module with:

    from kubeapi_fixtures import *  # noqa: F401,F403  (kube_pki, kubeapi, kubeapi_factory)

- `kube_pki` (session): the CAs and certificates, made once per run with openssl.
- `kubeapi`: a started server with an empty store, stopped after the test.
- `kubeapi_factory(**kwargs)`: more servers, or servers with other certificate names (sans=...).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeapi import PKI, KubeAPI

__all__ = ["kube_pki", "kubeapi", "kubeapi_factory"]


@pytest.fixture(scope="session")
def kube_pki(tmp_path_factory) -> PKI:
    return PKI(tmp_path_factory.mktemp("kube-pki"))


@pytest.fixture
def kubeapi_factory(kube_pki: PKI, tmp_path: Path):
    servers: list[KubeAPI] = []

    def make(**kwargs) -> KubeAPI:
        api = KubeAPI(kube_pki, tmp_path / f"kubeapi-{len(servers)}", **kwargs)
        servers.append(api)
        return api.start()

    yield make
    for api in servers:
        api.stop()


@pytest.fixture
def kubeapi(kubeapi_factory) -> KubeAPI:
    return kubeapi_factory()
