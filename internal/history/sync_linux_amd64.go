package history

// The syscall package does not name syncfs on amd64.
const sysSyncfs = 306
