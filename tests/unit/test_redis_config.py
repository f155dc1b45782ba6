"""RedisEnsemble's ConfigMap under Pulumi mocks: redis.conf, sentinel.conf and the start scripts' contents."""

from __future__ import annotations

from tests.support.redis_mocks import deploy, files


def test_redis_conf(preview: bool) -> None:
    conf = files(deploy(preview))["redis.conf"].splitlines()
    for line in (
        "port 6379",
        "bind * -::*",
        "protected-mode no",
        "dir /data",
        "appendonly yes",
        "appendfsync everysec",
        "maxmemory-policy noeviction",
        "min-replicas-to-write 0",
        'rename-command FLUSHALL ""',
        'rename-command FLUSHDB ""',
        'rename-command DEBUG ""',
        'rename-command CONFIG "SK_CONFIG"',
    ):
        assert line in conf
    assert not any(line.startswith(("maxmemory ", "requirepass", "masterauth", "replicaof")) for line in conf)


def test_redis_conf_tuning(preview: bool) -> None:
    d = deploy(
        preview,
        appendonly=False,
        appendfsync="always",
        maxmemory="256mb",
        maxmemory_policy="allkeys-lru",
        renamed_commands={"FLUSHALL": "WIPE_ALL", "KEYS": ""},
        min_replicas_to_write=1,
        min_replicas_max_lag=5,
        extra_config={"hz": "20", "tcp-keepalive": "60"},
    )
    conf = files(d)["redis.conf"].splitlines()
    for line in (
        "appendonly no",
        "appendfsync always",
        f"maxmemory {256 * 1024 * 1024}",
        "maxmemory-policy allkeys-lru",
        'rename-command FLUSHALL "WIPE_ALL"',
        'rename-command KEYS ""',
        "min-replicas-to-write 1",
        "min-replicas-max-lag 5",
        "hz 20",
        "tcp-keepalive 60",
    ):
        assert line in conf
    assert not any("CONFIG" in line for line in conf)  # overriding replaces the default set
    assert "sentinel rename-command" not in files(d)["sentinel.conf"]


def test_sentinel_conf(preview: bool) -> None:
    d = deploy(
        preview,
        master_name="orders",
        sentinel={"down_after_milliseconds": 5000, "failover_timeout_milliseconds": 30000, "parallel_syncs": 2},
    )
    conf = files(d)["sentinel.conf"].splitlines()
    assert conf.index("sentinel resolve-hostnames yes") < conf.index("sentinel monitor orders @MASTER@ 6379 2")
    for line in (
        "port 26379",
        "dir /data/sentinel",
        "sentinel announce-hostnames yes",
        "sentinel announce-ip @SELF@",
        "sentinel down-after-milliseconds orders 5000",
        "sentinel failover-timeout orders 30000",
        "sentinel parallel-syncs orders 2",
        "sentinel rename-command orders CONFIG SK_CONFIG",
    ):
        assert line in conf
    # Redis refuses rename-command in Sentinel mode; Sentinel only learns the servers' names.
    assert not any(line.startswith("rename-command") for line in conf)
    assert "MASTER_NAME=orders" in files(d)["common.sh"]


def test_sentinel_defaults(preview: bool) -> None:
    conf = files(deploy(preview))["sentinel.conf"]
    assert "sentinel monitor mymaster @MASTER@ 6379 2" in conf
    assert "sentinel down-after-milliseconds mymaster 10000" in conf
    assert "sentinel failover-timeout mymaster 60000" in conf
    assert "sentinel parallel-syncs mymaster 1" in conf
    assert (
        "sentinel monitor mymaster @MASTER@ 6379 3"
        in files(deploy(preview, replicas=5, sentinel={"quorum": 3}))["sentinel.conf"]
    )


def test_start_scripts_pick_the_role_through_the_sentinels(preview: bool) -> None:
    f = files(deploy(preview))
    common, start, sentinel, probe = f["common.sh"], f["redis-start.sh"], f["sentinel-start.sh"], f["probe.sh"]
    assert set(f) == {
        "redis.conf",
        "sentinel.conf",
        "common.sh",
        "redis-start.sh",
        "sentinel-start.sh",
        "probe.sh",
        "prestop.sh",
    }
    for line in ("STS=cache", "HEADLESS=cache-headless", "CLUSTER_DOMAIN=cluster.local", "REPLICAS=3", "AUTH=1"):
        assert line in common.splitlines()
    assert 'fqdn() { echo "$STS-$1.$HEADLESS.$POD_NAMESPACE.svc.$CLUSTER_DOMAIN"; }' in common
    assert 'SENTINEL get-master-addr-by-name "$MASTER_NAME"' in common
    assert 'REDISCLI_AUTH="$REDIS_PASSWORD"' in common
    # Order of trust: the Sentinels, then the state this pod's Sentinel saved, then ordinal 0.
    ask, saved, boot = (start.index(s) for s in ("sentinel_vote all", "saved_master)", "master=$(fqdn 0)"))
    assert ask < saved < boot
    assert 'echo "replica-announce-ip $SELF"' in start
    assert 'echo "replicaof $master $REDIS_PORT"' in start
    assert 'echo "requirepass $(conf_quote "$REDIS_PASSWORD")"' in start
    assert 'echo "masterauth $(conf_quote "$REDIS_PASSWORD")"' in start
    assert 'exec redis-server "$conf"' in start
    assert "$DATA_DIR/conf" in start  # writable copy: CONFIG REWRITE after a failover must succeed
    assert "sentinel_vote peers" in sentinel
    assert 'sed -e "s/@SELF@/$SELF/g" -e "s/@MASTER@/$master/g"' in sentinel
    assert 'echo "sentinel auth-pass $MASTER_NAME $(conf_quote "$REDIS_PASSWORD")"' in sentinel
    assert 'echo "requirepass $(conf_quote "$REDIS_PASSWORD")"' in sentinel
    assert 'echo "sentinel known-replica $MASTER_NAME $host $REDIS_PORT"' in sentinel
    assert 'exec redis-server "$conf" --sentinel' in sentinel
    # Sentinel starts only after this pod's Redis (then the master) answers: no failover on restart.
    local, peers, master = (
        sentinel.index(s)
        for s in ("wait_until_up 127.0.0.1", "sentinel_vote peers", 'wait_until_up "$master" "$DOWN_AFTER_SECONDS"')
    )
    assert local < peers < master
    assert "DOWN_AFTER_SECONDS=10" in common.splitlines()
    assert "PING" in probe and "master_sync_in_progress:1" in probe
    for script in (start, sentinel, probe, common):
        assert script.startswith("#!/bin/sh\n")
