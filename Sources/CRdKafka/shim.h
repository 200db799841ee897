#ifndef RELAY_CRDKAFKA_SHIM_H
#define RELAY_CRDKAFKA_SHIM_H
// librdkafka from Debian's librdkafka-dev (2.0.2). rd_kafka_producev is variadic and cannot be called from
// Swift; wrappers that need it go here as static inline functions.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#endif
