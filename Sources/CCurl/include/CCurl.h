// The door to libcurl: libcurl loaded with dlopen only when an Event is sent (so an admission that
// sends nothing never pays for loading libcurl and OpenSSL), typed non-variadic wrappers for
// curl_easy_setopt (Swift cannot call variadic C functions).
// Every symbol carries the CCurl_ prefix.
#ifndef CCURL_H
#define CCURL_H

#include <stddef.h>
#include <sys/types.h>

// Option numbers from curl.h (stable ABI); the headers are not needed at build time.
enum {
  CCurl_OPT_WRITEDATA = 10001,
  CCurl_OPT_URL = 10002,
  CCurl_OPT_PROXY = 10004,
  CCurl_OPT_ERRORBUFFER = 10010,
  CCurl_OPT_WRITEFUNCTION = 20011,
  CCurl_OPT_HTTPHEADER = 10023,
  CCurl_OPT_SSLCERTTYPE = 10086,
  CCurl_OPT_SSLKEYTYPE = 10088,
  CCurl_OPT_CUSTOMREQUEST = 10036,
  CCurl_OPT_CAINFO = 10065,
  CCurl_OPT_CAPATH = 10097,
  CCurl_OPT_POSTFIELDSIZE = 60,
  CCurl_OPT_SSL_VERIFYPEER = 64,
  CCurl_OPT_SSL_VERIFYHOST = 81,
  CCurl_OPT_NOSIGNAL = 99,
  CCurl_OPT_TIMEOUT_MS = 155,
  CCurl_OPT_CONNECTTIMEOUT_MS = 156,
  CCurl_OPT_COPYPOSTFIELDS = 10165,
  CCurl_OPT_NOPROXY = 10177,
  CCurl_OPT_CONNECT_TO = 10243,
  CCurl_OPT_SSLCERT_BLOB = 40291,
  CCurl_OPT_SSLKEY_BLOB = 40292,
  CCurl_OPT_CAINFO_BLOB = 40309,
  CCurl_OPT_PROTOCOLS_STR = 10318,
  CCurl_OPT_HTTPGET = 80,
};

/// Loads libcurl.so.4 and initialises it once; 0 on success, else -1 (see CCurl_load_error).
int CCurl_load(void);
/// Why CCurl_load failed.
const char *CCurl_load_error(void);

void *CCurl_easy_init(void);
void CCurl_easy_cleanup(void *handle);
void CCurl_easy_reset(void *handle);
int CCurl_setopt_long(void *handle, int option, long value);
int CCurl_setopt_string(void *handle, int option, const char *value);
int CCurl_setopt_pointer(void *handle, int option, void *value);
/// Sets a *_BLOB option; libcurl copies the bytes.
int CCurl_setopt_blob(void *handle, int option, const void *data, size_t length);
/// Collects the response body into a growable buffer owned by the caller.
typedef struct CCurl_Buffer {
  char *data;
  size_t length;
  size_t limit;
} CCurl_Buffer;
/// Points the body of the next transfer at `buffer` (which must outlive the transfer).
int CCurl_collect_body(void *handle, CCurl_Buffer *buffer);
void CCurl_buffer_free(CCurl_Buffer *buffer);
void *CCurl_slist_append(void *list, const char *text);
void CCurl_slist_free_all(void *list);
int CCurl_perform(void *handle);
long CCurl_response_code(void *handle);
const char *CCurl_strerror(int code);

#endif
