/* packet-redis-cluster.h — registration of the Redis / Valkey Cluster bus dissector.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef PACKET_REDIS_CLUSTER_H
#define PACKET_REDIS_CLUSTER_H

void proto_register_redis_cluster(void);
void proto_reg_handoff_redis_cluster(void);

#endif
