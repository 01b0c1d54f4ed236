/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The configuration `ftgtd --default` replays: one place, as JSON text in the format
 * of save_config / -c. Entries whose method (or subsystem) this build lacks are
 * skipped, so front ends add their part here and it appears once they exist.
 */
#ifndef FTGTD_DEFAULT_CONFIG_H
#define FTGTD_DEFAULT_CONFIG_H

static const char g_ftgtd_default_config[] = "{\n"
                                             "  \"subsystems\": [\n"
                                             "    {\n"
                                             "      \"subsystem\": \"bdev\",\n"
                                             "      \"config\": [\n"
                                             "        {\n"
                                             "          \"method\": \"bdev_malloc_create\",\n"
                                             "          \"params\": {\"name\": \"Malloc0\", "
                                             "\"num_blocks\": 131072, \"block_size\": 512}\n"
                                             "        }\n"
                                             "      ]\n"
                                             "    }\n"
                                             "  ]\n"
                                             "}\n";

#endif /* FTGTD_DEFAULT_CONFIG_H */
