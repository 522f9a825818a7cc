"""The registry client canary_weights builds for an image's own registry: the same
constructor (client_from_params) and credential options as the registry modules."""

from ansible_collections.xinchuang.cloud.plugins.module_utils.registry import client as reg


def test_credential_options_are_those_of_the_registry_modules():
    spec = reg.registry_credentials_argument_spec()
    assert sorted(spec) == sorted(reg.REGISTRY_CREDENTIAL_OPTIONS)
    assert all(spec[k] == reg.registry_argument_spec()[k] for k in spec)
    assert spec["password"]["no_log"] is True and spec["validate_certs"]["default"] is True


def test_image_registry_client_uses_the_credentials_and_short_budget():
    client = reg.client_for_image_registry(
        "harbor.example.com:8443", {"username": "robot", "password": "s3cret", "ca_path": "/ca.pem",
                                    "validate_certs": False}, timeout=15, retries=1)
    assert client.base == "https://harbor.example.com:8443"
    assert (client.username, client.password, client.ca_path) == ("robot", "s3cret", "/ca.pem")
    assert client.validate_certs is False
    assert (client.timeout, client.retries) == (15, 1)


def test_without_credentials_the_client_is_anonymous_and_verifies_certificates():
    client = reg.client_for_image_registry("127.0.0.1:5000")
    assert client.username is None and client.password is None and client.ca_path is None
    assert client.validate_certs is True
    assert (client.timeout, client.retries) == (30.0, 3)


def test_docker_hub_is_asked_at_its_api_host():
    assert reg.client_for_image_registry("docker.io").base == "https://registry-1.docker.io"
