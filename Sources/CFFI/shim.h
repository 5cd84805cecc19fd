#ifndef ZEROTASK_CFFI_SHIM_H
#define ZEROTASK_CFFI_SHIM_H
#include <ffi.h>
/* The plugin SDK header is the single definition of zt_context, shared with plugin authors. */
#include "../../Plugins/include/zerotask_plugin.h"

/* libffi's type descriptors are mutable C globals, which Swift 6 refuses to take the address of
   from concurrent code. These accessors hand out the pointers instead. */
static inline ffi_type *zt_ffi_type_void(void) { return &ffi_type_void; }
static inline ffi_type *zt_ffi_type_uint8(void) { return &ffi_type_uint8; }
static inline ffi_type *zt_ffi_type_sint8(void) { return &ffi_type_sint8; }
static inline ffi_type *zt_ffi_type_uint16(void) { return &ffi_type_uint16; }
static inline ffi_type *zt_ffi_type_sint16(void) { return &ffi_type_sint16; }
static inline ffi_type *zt_ffi_type_uint32(void) { return &ffi_type_uint32; }
static inline ffi_type *zt_ffi_type_sint32(void) { return &ffi_type_sint32; }
static inline ffi_type *zt_ffi_type_uint64(void) { return &ffi_type_uint64; }
static inline ffi_type *zt_ffi_type_sint64(void) { return &ffi_type_sint64; }
static inline ffi_type *zt_ffi_type_float(void) { return &ffi_type_float; }
static inline ffi_type *zt_ffi_type_double(void) { return &ffi_type_double; }
static inline ffi_type *zt_ffi_type_pointer(void) { return &ffi_type_pointer; }
#endif
