/* ctorwrite's constructor in a plugin whose method declares the folder it writes to: a worker
   of that method's profile may write there, the probe (the profile of a plugin that declares
   nothing) may not. */
#include "ctorwrite.c"
