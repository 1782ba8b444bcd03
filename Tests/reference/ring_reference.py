#!/usr/bin/env python3
"""An independent reference of LinkRing's placement (Sources/LinkRingCore/Cluster/HashRing.swift).

The known answers pinned in Tests/LinkRingCoreTests/PlacementTests.swift were computed by this
script, so a change to the Swift hash or ring that alters placement fails those tests.
Run: python3 Tests/reference/ring_reference.py
"""
M = (1 << 64) - 1

def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & M
    return h

def mix(x: int) -> int:
    x ^= x >> 33; x = (x * 0xFF51AFD7ED558CCD) & M
    x ^= x >> 33; x = (x * 0xC4CEB9FE1A85EC53) & M
    x ^= x >> 33
    return x

def stable_hash(data: bytes) -> int:
    return mix(fnv1a64(data))

def build(nodes, vnodes, replicas):
    placed = sorted((stable_hash(f"{n}#{v}".encode()), i) for i, n in enumerate(nodes) for v in range(vnodes))
    points = [p for p, _ in placed]
    table = []
    for start in range(len(placed)):
        chosen, offset = [], 0
        while len(chosen) < replicas:
            node = placed[(start + offset) % len(placed)][1]
            if node not in chosen:
                chosen.append(node)
            offset += 1
        table.append(chosen)
    return points, table

def range_index(points, key: bytes, probes=8):
    import bisect
    h = stable_hash(key)
    best, best_distance = 0, None
    for probe in range(probes):
        ph = h if probe == 0 else mix(h ^ ((probe * 0x9E3779B97F4A7C15) & M))
        i = bisect.bisect_left(points, ph) % len(points)
        d = (points[i] - ph) & M
        if best_distance is None or d < best_distance:
            best, best_distance = i, d
    return best

if __name__ == "__main__":
    nodes = [f"127.0.0.1:{9000 + i}" for i in range(1, 5)]
    points, table = build(nodes, 64, 2)
    print("hash(abc) = 0x%016X" % stable_hash(b"abc"))
    print("mix(1) = 0x%016X" % mix(1))
    print("fnv(a) = 0x%016X" % fnv1a64(b"a"))
    print("placements", [table[range_index(points, k.encode())] for k in ["abc", "gh", "key-1", "key-2", "x"]])
