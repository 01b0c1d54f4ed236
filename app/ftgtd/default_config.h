/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The configuration `ftgtd --default` replays: one place, as JSON text in the format
 * of save_config / -c (SPDK's method and parameter names). Entries whose method (or
 * subsystem) this build lacks are skipped, so every front end that exists exports a
 * RAM disk and the others simply do not appear. A front end claims its bdev for
 * writing, so each gets its own 64 MiB disk: Malloc0 over NVMe/TCP, Malloc1 over iSCSI.
 * Everything listens on 127.0.0.1 only: to serve other hosts, save_config, change the
 * addresses and start with -c.
 */
#ifndef FTGTD_DEFAULT_CONFIG_H
#define FTGTD_DEFAULT_CONFIG_H

#define FTGTD_DEFAULT_NQN "nqn.2016-06.io.ftgt:malloc0"

static const char g_ftgtd_default_config[] =
        "{\"subsystems\": [\n"
        " {\"subsystem\": \"bdev\", \"config\": [\n"
        "  {\"method\": \"bdev_malloc_create\",\n"
        "   \"params\": {\"name\": \"Malloc0\", \"num_blocks\": 131072, \"block_size\": 512}},\n"
        "  {\"method\": \"bdev_malloc_create\",\n"
        "   \"params\": {\"name\": \"Malloc1\", \"num_blocks\": 131072, \"block_size\": 512}}\n"
        " ]},\n"
        " {\"subsystem\": \"nvmf\", \"config\": [\n"
        "  {\"method\": \"nvmf_create_transport\", \"params\": {\"trtype\": \"TCP\"}},\n"
        "  {\"method\": \"nvmf_create_subsystem\",\n"
        "   \"params\": {\"nqn\": \"" FTGTD_DEFAULT_NQN "\", \"allow_any_host\": true,\n"
        "              \"serial_number\": \"FTGT0000000001\", \"model_number\": \"ftgt "
        "Malloc0\"}},\n"
        "  {\"method\": \"nvmf_subsystem_add_ns\",\n"
        "   \"params\": {\"nqn\": \"" FTGTD_DEFAULT_NQN "\", \"namespace\": {\"bdev_name\": "
        "\"Malloc0\"}}},\n"
        "  {\"method\": \"nvmf_subsystem_add_listener\",\n"
        "   \"params\": {\"nqn\": \"" FTGTD_DEFAULT_NQN "\",\n"
        "              \"listen_address\": {\"trtype\": \"TCP\", \"adrfam\": \"IPv4\",\n"
        "                                 \"traddr\": \"127.0.0.1\", \"trsvcid\": \"4420\"}}}\n"
        " ]},\n"
        " {\"subsystem\": \"iscsi\", \"config\": [\n"
        "  {\"method\": \"iscsi_create_portal_group\",\n"
        "   \"params\": {\"tag\": 1, \"portals\": [{\"host\": \"127.0.0.1\", \"port\": "
        "\"3260\"}]}},\n"
        "  {\"method\": \"iscsi_create_initiator_group\",\n"
        "   \"params\": {\"tag\": 1, \"initiators\": [\"ANY\"], \"netmasks\": [\"ANY\"]}},\n"
        "  {\"method\": \"iscsi_create_target_node\",\n"
        "   \"params\": {\"name\": \"malloc1\", \"alias_name\": \"Malloc1\",\n"
        "              \"pg_ig_maps\": [{\"pg_tag\": 1, \"ig_tag\": 1}],\n"
        "              \"luns\": [{\"bdev_name\": \"Malloc1\", \"lun_id\": 0}],\n"
        "              \"queue_depth\": 64, \"disable_chap\": true}}\n"
        " ]}\n"
        "]}\n";

#endif /* FTGTD_DEFAULT_CONFIG_H */
