#include "CCurl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void CURL;
struct curl_slist;
struct CCurl_blob {
  void *data;
  size_t len;
  unsigned int flags;
};

static void *library;
static char load_error[256];
static CURL *(*easy_init)(void);
static void (*easy_cleanup)(CURL *);
static void (*easy_reset)(CURL *);
static int (*easy_setopt)(CURL *, int, ...);
static int (*easy_perform)(CURL *);
static int (*easy_getinfo)(CURL *, int, ...);
static const char *(*easy_strerror)(int);
static struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
static void (*slist_free_all)(struct curl_slist *);
static int (*global_init)(long);
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded = -1;

static void *symbol(const char *name) {
  void *found = dlsym(library, name);
  if (!found && !load_error[0]) snprintf(load_error, sizeof load_error, "libcurl has no %s", name);
  return found;
}

static void load(void) {
  library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    snprintf(load_error, sizeof load_error, "cannot load libcurl.so.4: %s", dlerror());
    return;
  }
  easy_init = symbol("curl_easy_init");
  easy_cleanup = symbol("curl_easy_cleanup");
  easy_reset = symbol("curl_easy_reset");
  easy_setopt = symbol("curl_easy_setopt");
  easy_perform = symbol("curl_easy_perform");
  easy_getinfo = symbol("curl_easy_getinfo");
  easy_strerror = symbol("curl_easy_strerror");
  slist_append = symbol("curl_slist_append");
  slist_free_all = symbol("curl_slist_free_all");
  global_init = symbol("curl_global_init");
  if (load_error[0]) return;
  if (global_init(3 /* CURL_GLOBAL_DEFAULT */) != 0) {
    snprintf(load_error, sizeof load_error, "curl_global_init failed");
    return;
  }
  loaded = 0;
}

int CCurl_load(void) {
  pthread_once(&once, load);
  return loaded;
}

const char *CCurl_load_error(void) { return load_error; }

void *CCurl_easy_init(void) { return easy_init(); }
void CCurl_easy_cleanup(void *handle) { easy_cleanup(handle); }
void CCurl_easy_reset(void *handle) { easy_reset(handle); }
int CCurl_setopt_long(void *handle, int option, long value) { return easy_setopt(handle, option, value); }
int CCurl_setopt_string(void *handle, int option, const char *value) { return easy_setopt(handle, option, value); }
int CCurl_setopt_pointer(void *handle, int option, void *value) { return easy_setopt(handle, option, value); }

int CCurl_setopt_blob(void *handle, int option, const void *data, size_t length) {
  struct CCurl_blob blob = {(void *)data, length, 1 /* CURL_BLOB_COPY */};
  return easy_setopt(handle, option, &blob);
}

static size_t append_body(char *data, size_t size, size_t count, void *user) {
  CCurl_Buffer *buffer = user;
  size_t bytes = size * count;
  if (buffer->length + bytes > buffer->limit) return 0;  // makes libcurl fail with a write error
  char *grown = realloc(buffer->data, buffer->length + bytes + 1);
  if (!grown) return 0;
  memcpy(grown + buffer->length, data, bytes);
  buffer->data = grown;
  buffer->length += bytes;
  buffer->data[buffer->length] = 0;
  return bytes;
}

int CCurl_collect_body(void *handle, CCurl_Buffer *buffer) {
  int code = easy_setopt(handle, CCurl_OPT_WRITEFUNCTION, append_body);
  return code ? code : easy_setopt(handle, CCurl_OPT_WRITEDATA, buffer);
}

void CCurl_buffer_free(CCurl_Buffer *buffer) {
  free(buffer->data);
  buffer->data = NULL;
  buffer->length = 0;
}

void *CCurl_slist_append(void *list, const char *text) { return slist_append(list, text); }
void CCurl_slist_free_all(void *list) { slist_free_all(list); }
int CCurl_perform(void *handle) { return easy_perform(handle); }

long CCurl_response_code(void *handle) {
  long code = 0;
  easy_getinfo(handle, 0x200002 /* CURLINFO_RESPONSE_CODE */, &code);
  return code;
}

const char *CCurl_strerror(int code) { return easy_strerror ? easy_strerror(code) : "libcurl not loaded"; }
