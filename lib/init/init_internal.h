/* SPDX-License-Identifier: BSD-3-Clause */
/* Private declarations of lib/init. */
#ifndef FTGT_INIT_INTERNAL_H
#define FTGT_INIT_INTERNAL_H

/* init_rpc.c: start-up finished (answer framework_wait_init), shutdown began. */
void init_rpc_started(void);
void init_rpc_shutdown(void);

#endif /* FTGT_INIT_INTERNAL_H */
