// The admin requests scripts/stack needs, in one JVM start each (the Kafka CLI tools take one
// topic per start). Compiled once per Kafka version into the stack's jar cache.
//
//   StackAdmin BOOTSTRAP nodes                         -> number of live brokers
//   StackAdmin BOOTSTRAP create-topics P RF MINISR T…  -> creates the missing topics
//   StackAdmin BOOTSTRAP topics                        -> name, partitions, replication
//   StackAdmin BOOTSTRAP delete-topics T…              -> deletes the topics that exist
//   StackAdmin BOOTSTRAP reset-offsets GROUP TOPIC OFF -> GROUP's offsets on TOPIC set to OFF

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

public final class StackAdmin {
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: StackAdmin BOOTSTRAP nodes|create-topics|topics|delete-topics|reset-offsets …");
            System.exit(2);
        }
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "15000");
        // The stack's TLS profile: SASL_SSL client settings (scripts/stack writes the file).
        String extra = System.getenv("STACK_ADMIN_PROPERTIES");
        if (extra != null && !extra.isEmpty()) {
            try (java.io.FileInputStream in = new java.io.FileInputStream(extra)) {
                props.load(in);
            }
        }
        try (Admin admin = Admin.create(props)) {
            switch (args[1]) {
                case "nodes":
                    System.out.println(admin.describeCluster().nodes().get().size());
                    break;
                case "create-topics":
                    createTopics(admin, args);
                    break;
                case "topics":
                    listTopics(admin);
                    break;
                case "delete-topics":
                    deleteTopics(admin, args);
                    break;
                case "reset-offsets":
                    resetOffsets(admin, args);
                    break;
                default:
                    System.err.println("unknown command " + args[1]);
                    System.exit(2);
            }
        } catch (ExecutionException e) {
            System.err.println("kafka admin: " + e.getCause());
            System.exit(1);
        }
    }

    private static void createTopics(Admin admin, String[] args) throws Exception {
        int partitions = Integer.parseInt(args[2]);
        short replication = Short.parseShort(args[3]);
        String minIsr = args[4];
        Set<String> existing = admin.listTopics().names().get();
        List<NewTopic> topics = new ArrayList<>();
        for (int i = 5; i < args.length; i++) {
            if (!existing.contains(args[i])) {
                topics.add(new NewTopic(args[i], partitions, replication)
                        .configs(Map.of("min.insync.replicas", minIsr)));
            }
        }
        for (Map.Entry<String, ?> entry : admin.createTopics(topics).values().entrySet()) {
            try {
                ((org.apache.kafka.common.KafkaFuture<?>) entry.getValue()).get();
                System.out.println("created " + entry.getKey());
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw e;
                }
            }
        }
    }

    private static void listTopics(Admin admin) throws Exception {
        Set<String> names = admin.listTopics().names().get();
        Map<String, TopicDescription> described =
                new TreeMap<>(admin.describeTopics(names).allTopicNames().get());
        for (TopicDescription d : described.values()) {
            int replication = d.partitions().isEmpty() ? 0 : d.partitions().get(0).replicas().size();
            System.out.printf("%s\tpartitions=%d\treplication=%d%n", d.name(), d.partitions().size(), replication);
        }
    }

    private static void deleteTopics(Admin admin, String[] args) throws Exception {
        Set<String> existing = admin.listTopics().names().get();
        Collection<String> doomed = new ArrayList<>();
        for (int i = 2; i < args.length; i++) {
            if (existing.contains(args[i])) {
                doomed.add(args[i]);
            }
        }
        try {
            admin.deleteTopics(doomed).all().get();
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) {
                throw e;
            }
        }
    }

    private static void resetOffsets(Admin admin, String[] args) throws Exception {
        String group = args[2];
        String topic = args[3];
        long offset = Long.parseLong(args[4]);
        TopicDescription description =
                admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        for (var p : description.partitions()) {
            offsets.put(new TopicPartition(topic, p.partition()), new OffsetAndMetadata(offset));
        }
        admin.alterConsumerGroupOffsets(group, offsets).all().get();
        System.out.printf("%s\t%s\tpartitions=%d\toffset=%d%n", group, topic, offsets.size(), offset);
    }
}
