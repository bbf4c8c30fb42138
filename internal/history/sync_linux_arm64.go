package history

import "syscall"

const sysSyncfs = syscall.SYS_SYNCFS
