"""The event store, concurrency, projector (exactly once, crashes, rebuild, the claim race),
deadline watch and claim liveness suites, collected again here to run on the cluster: each
test below is the integration suite's own, with ``redis`` the cluster client."""

from __future__ import annotations

from redis.cluster import RedisCluster
from test_claim_liveness import *  # noqa: F403
from test_deadline_watch import *  # noqa: F403
from test_eventstore import *  # noqa: F403
from test_projector import *  # noqa: F403

from coordination.devtools.cluster import EmbeddedCluster
from coordination.store import keys

DISTRICTS = ("gangwen", "haiyun")


def test_the_two_districts_live_on_different_shards(
    cluster: EmbeddedCluster, redis: RedisCluster
) -> None:
    owners = {cluster.owner(keys.log(d)).port for d in DISTRICTS}
    assert len(owners) == 2
    for district in DISTRICTS:
        assert redis.cluster_keyslot(keys.log(district)) == redis.cluster_keyslot(
            keys.checkpoint(district, 1)
        )
