"""CLUSTER NODES parsing and slot routing."""

from redis.crc import key_slot

from dbtop.engines.redis.cluster import SlotMap, parse_cluster_nodes

NODES = b"\n".join(
    [
        b"07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@310"
        b"04,host-4 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected",
        b"67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@310"
        b"02 master - 0 1426238316232 2 connected 5461-10922",
        b"292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@310"
        b"03 master - 0 1426238318243 3 connected 10923-16383 [100->-abc]",
        b"e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca :30001@31001 myself"
        b",master - 0 0 1 connected 0-5460",
        b"6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@310"
        b"05 master,fail - 1426238316232 0 5 disconnected",
    ]
)


def test_nodes_roles_and_slots():
    nodes = {n.port: n for n in parse_cluster_nodes(NODES, fallback_host="127.0.0.1")}
    assert nodes[30004].role == "replica"
    assert nodes[30004].master_id.startswith("e7d1")
    assert nodes[30002].slots == ((5461, 10922),)
    assert nodes[30003].slots == ((10923, 16383),)  # the migrating slot is not owned
    assert nodes[30001].is_myself and nodes[30001].host == "127.0.0.1"
    assert nodes[30001].name == "127.0.0.1:30001"
    assert not nodes[30005].usable


def test_slot_map_routes_keys_to_their_master():
    slots = SlotMap(parse_cluster_nodes(NODES, fallback_host="127.0.0.1"))
    for key in (b"a", b"user:1", b"{user:1}:cart", b"zzz"):
        slot = key_slot(key)
        expected = (
            "127.0.0.1:30001"
            if slot <= 5460
            else "127.0.0.1:30002"
            if slot <= 10922
            else "127.0.0.1:30003"
        )
        assert slots.node_for(key) == expected
