#ifndef RELAY_CRDKAFKA_SHIM_H
#define RELAY_CRDKAFKA_SHIM_H
// librdkafka from Debian's librdkafka-dev (2.0.2). rd_kafka_producev is variadic and cannot be called from
// Swift; the wrapper below calls it with a fixed argument list.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/// Produces one message to a topic handle (rd_kafka_topic_new), copying key and value (RD_KAFKA_MSG_F_COPY). On success librdkafka owns `headers`
/// (it frees them with the message); on failure they remain the caller's to destroy. `opaque` comes back in
/// the delivery report as rkmessage->_private. A timestamp of 0 means "now".
static inline rd_kafka_resp_err_t relay_rd_kafka_produce(
    rd_kafka_t *rk, rd_kafka_topic_t *topic, int32_t partition, const void *key, size_t key_length,
    const void *value, size_t value_length, rd_kafka_headers_t *headers, int64_t timestamp, void *opaque) {
    return rd_kafka_producev(
        rk, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key, key_length),
        RD_KAFKA_V_VALUE((void *)value, value_length), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_TIMESTAMP(timestamp), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
}
#endif
