/* resp_sentinel.h — the text messages Redis Sentinel publishes, split into their parts.
 *
 * Independent of Wireshark; nothing here allocates, every part is a span of the input.
 *
 * Hello messages: each sentinel publishes, on the channel __sentinel__:hello of every
 * instance it monitors, eight comma-separated values: its own ip, port, run id and current
 * epoch, then the master's name, ip, port and configuration epoch.
 *
 * Events: a sentinel publishes on channels named after the event ("+sdown", "-odown",
 * "+switch-master", ...). Most carry "<instance type> <name> <ip> <port>", followed by
 * "@ <master name> <master ip> <master port>" unless the instance is a master, and then
 * maybe more words; +switch-master carries "<master name> <old ip> <old port> <new ip>
 * <new port>"; others (+new-epoch, +vote-for-leader, +tilt, ...) free text.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef RESP_SENTINEL_H
#define RESP_SENTINEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t off, len; /* within the parsed text */
} resp_text_span_t;

#define RESP_SENTINEL_HELLO_CHANNEL "__sentinel__:hello"

typedef struct {
    resp_text_span_t ip, runid, master_name, master_ip;
    resp_text_span_t port_text, epoch_text, master_port_text, master_epoch_text;
    uint16_t port, master_port;
    uint64_t epoch, master_epoch;
} resp_sentinel_hello_t;

/* 1 and *out filled for a well-formed hello payload (8 fields, ports and epochs decimal,
 * names and addresses non-empty), else 0. */
int resp_sentinel_hello_parse(const uint8_t *p, size_t n, resp_sentinel_hello_t *out);

/* 1 if the channel name has the shape of a sentinel event: '+' or '-' then lower-case
 * letters and '-', at most 64 bytes. */
int resp_sentinel_is_event_channel(const uint8_t *p, size_t n);

typedef enum {
    RESP_SENTINEL_EVENT_TEXT = 0,    /* only the channel is known; payload is free text */
    RESP_SENTINEL_EVENT_INSTANCE,    /* "<type> <name> <ip> <port> [@ <master> <ip> <port>] ..." */
    RESP_SENTINEL_EVENT_SWITCH       /* +switch-master */
} resp_sentinel_event_form_t;

typedef struct {
    resp_sentinel_event_form_t form;
    /* INSTANCE: type is master, slave, replica or sentinel */
    resp_text_span_t instance_type, instance_name, ip, port_text;
    uint16_t port;
    int has_master;                  /* the "@ ..." part */
    resp_text_span_t master_name, master_ip, master_port_text;
    uint16_t master_port;
    /* SWITCH (master_name as above) */
    resp_text_span_t old_ip, new_ip, old_port_text, new_port_text;
    uint16_t old_port, new_port;
} resp_sentinel_event_t;

/* Splits an event's payload. channel picks the form (+switch-master); an INSTANCE or
 * SWITCH payload that does not fit its form comes back as TEXT. Always returns the form. */
resp_sentinel_event_form_t resp_sentinel_event_parse(const uint8_t *channel, size_t channel_len,
                                                     const uint8_t *p, size_t n,
                                                     resp_sentinel_event_t *out);

#ifdef __cplusplus
}
#endif

#endif /* RESP_SENTINEL_H */
