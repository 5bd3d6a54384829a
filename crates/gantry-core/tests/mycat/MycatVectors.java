// Derives shard-routing vectors from MyCat 1.6 PartitionByMurmurHash's
// definition (seed 0, 160 virtual buckets per node, equal weights) with
// Guava's murmur3_32, the hash MyCat itself calls. Run:
//   java -cp /usr/share/java/guava.jar MycatVectors.java
import com.google.common.hash.HashFunction;
import com.google.common.hash.Hashing;
import java.util.SortedMap;
import java.util.TreeMap;

public class MycatVectors {
    static TreeMap<Integer, Integer> ring(HashFunction hash, int count) {
        TreeMap<Integer, Integer> bucketMap = new TreeMap<>();
        for (int i = 0; i < count; i++) {
            StringBuilder hashName = new StringBuilder("SHARD-").append(i);
            for (int n = 0; n < 160; n++) {
                bucketMap.put(hash.hashUnencodedChars(hashName.append("-NODE-").append(n)).asInt(), i);
            }
        }
        return bucketMap;
    }

    static int calculate(TreeMap<Integer, Integer> bucketMap, HashFunction hash, String value) {
        SortedMap<Integer, Integer> tail = bucketMap.tailMap(hash.hashUnencodedChars(value).asInt());
        return tail.isEmpty() ? bucketMap.get(bucketMap.firstKey()) : tail.get(tail.firstKey());
    }

    public static void main(String[] args) {
        HashFunction hash = Hashing.murmur3_32(0);
        String[] keys = {"", "a", "KKMC", "成都东卡口", "G5京昆高速绵阳北卡口", "G42沪蓉高速K1893+200卡口",
            "S325_Suining_01", "川A12345", "重庆收费站", "\uD83D\uDE97卡口"};
        for (String k : keys) {
            System.out.printf("hash %s %d%n", k, hash.hashUnencodedChars(k).asInt());
        }
        for (int count : new int[] {1, 2, 3, 4, 5, 8}) {
            TreeMap<Integer, Integer> r = ring(hash, count);
            StringBuilder sb = new StringBuilder();
            for (String k : keys) sb.append(calculate(r, hash, k)).append(',');
            System.out.printf("route %d %s%n", count, sb);
        }
        // Many keys for a bulk comparison: "卡口-<i>" for i in 0..1000 over 2 and 3 shards.
        for (int count : new int[] {2, 3}) {
            TreeMap<Integer, Integer> r = ring(hash, count);
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < 1000; i++) sb.append(calculate(r, hash, "卡口-" + i));
            System.out.printf("bulk %d %s%n", count, sb);
        }
    }
}
