"""ZooKeeperEnsemble's Services and TLS under Pulumi mocks: who is served on which port."""

from __future__ import annotations

from tests.support.mocks import service, sts_spec
from tests.support.tokens import CERTIFICATE, NETPOL, STS
from tests.support.zookeeper_mocks import config_data, container, deploy


def test_services(preview: bool) -> None:
    d = deploy(preview)
    headless = service(d, "zk-headless").inputs["spec"]
    assert headless["clusterIP"] == "None"
    assert headless["publishNotReadyAddresses"] is True
    assert {p["name"]: p["port"] for p in headless["ports"]} == {
        "client": 2181,
        "quorum": 2888,
        "election": 3888,
        "admin": 8080,
        "metrics": 7000,
    }
    client = service(d, "zk").inputs["spec"]
    assert client["type"] == "ClusterIP"
    assert client["ports"] == [{"name": "client", "port": 2181, "targetPort": "client", "protocol": "TCP"}]
    assert client["selector"] == headless["selector"] == sts_spec(d)["selector"]["matchLabels"]
    assert "publishNotReadyAddresses" not in client


def test_tls_serves_clients_and_the_members_own_scripts_on_the_tls_port_only(preview: bool) -> None:
    d = deploy(preview, namespace="data", tls={"secret_name": "zk-certs", "client_certificates": True})
    files = config_data(d)
    base = files["zoo-base.cfg"]
    for line in (
        "secureClientPort=2281",
        "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
        "sslQuorum=true",
        "ssl.keyStore.location=/tls-keystore/keystore.pem",
        "ssl.quorum.keyStore.type=PEM",
        "ssl.quorum.trustStore.location=/tls/ca.crt",
        "ssl.clientAuth=need",
    ):
        assert f"\n{line}\n" in base, line
    assert "clientPort=" not in base.replace("secureClientPort=", "")  # the server lines say: loopback
    assert "-----BEGIN" not in "".join(files.values())  # no key or certificate in the ConfigMap
    # The scripts talk to the members over TLS, and list them without a plaintext client port.
    for line in (
        "PORT=2281",
        "CLIENT_SPEC=';127.0.0.1:2181'",
        "TLS_DIR=/tls",
        "TLS_KEYSTORE=/tls-keystore/keystore.pem",
    ):
        assert f"\n{line}\n" in files["common.sh"], line
    for line in ("PORT=2281", "TLS_DIR=/tls"):
        assert f"\n{line}\n" in files["probe.sh"], line
    pod = sts_spec(d)["template"]["spec"]
    assert {"name": "tls", "secret": {"secretName": "zk-certs", "defaultMode": 0o440}} in pod["volumes"]
    assert {"name": "tls-keystore", "emptyDir": {"medium": "Memory"}} in pod["volumes"]
    mounts = container(d)["volumeMounts"]
    assert {"name": "tls", "mountPath": "/tls", "readOnly": True} in mounts
    assert {"name": "tls-keystore", "mountPath": "/tls-keystore"} in mounts
    assert 2181 not in [p["containerPort"] for p in container(d)["ports"]]
    client = service(d, "zk").inputs["spec"]
    assert client["ports"] == [
        {"name": "secure-client", "port": 2281, "targetPort": "secure-client", "protocol": "TCP"}
    ]
    assert d.outputs["connect"].startswith("zk-0.zk-headless.data.svc.cluster.local:2281,")
    policy = d.one(NETPOL).inputs["spec"]["ingress"]
    assert [p["port"] for p in policy[0]["ports"]] == [2281, 2888, 3888]  # members
    assert [p["port"] for p in policy[1]["ports"]] == [2281]  # clients: TLS only
    plain = config_data(deploy(preview))
    assert "ssl" not in plain["zoo-base.cfg"] and "secureClientPort" not in plain["zoo-base.cfg"]
    for line in ("PORT=2181", "CLIENT_SPEC=';2181'", "TLS_DIR=''", "TLS_KEYSTORE=''"):
        assert f"\n{line}\n" in plain["common.sh"], line


def test_plaintext_client_port_keeps_2181_for_clients_beside_tls(preview: bool) -> None:
    d = deploy(preview, tls={"secret_name": "zk-certs"}, plaintext_client_port=True)
    files = config_data(d)
    for line in ("PORT=2281", "CLIENT_SPEC=';2181'", "TLS_DIR=/tls"):
        assert f"\n{line}\n" in files["common.sh"], line
    assert [p["name"] for p in service(d, "zk").inputs["spec"]["ports"]] == ["client", "secure-client"]
    policy = d.one(NETPOL).inputs["spec"]["ingress"]
    assert [p["port"] for p in policy[1]["ports"]] == [2181, 2281]
    assert d.outputs["connect"].startswith("zk-0.zk-headless.default.svc.cluster.local:2281,")


def test_tls_from_cert_manager_names_every_member_and_service(preview: bool) -> None:
    d = deploy(preview, namespace="data", tls={"issuer_ref": {"name": "ca"}})
    (certificate,) = d.of_type(CERTIFICATE)
    spec = certificate.inputs["spec"]
    assert spec["secretName"] == "zk-tls" and spec["issuerRef"]["kind"] == "Issuer"
    assert "*.zk-headless.data.svc.cluster.local" in spec["dnsNames"]
    assert "zk.data.svc.cluster.local" in spec["dnsNames"] and "zk" in spec["dnsNames"]
    assert certificate.urn in d.one(STS).dependencies


def test_client_service_type_and_annotations(preview: bool) -> None:
    d = deploy(preview, client_service_type="LoadBalancer", client_service_annotations={"lb.example/internal": "1"})
    client = service(d, "zk").inputs
    assert client["spec"]["type"] == "LoadBalancer"
    assert client["metadata"]["annotations"]["lb.example/internal"] == "1"
