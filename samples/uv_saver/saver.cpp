#include "saver.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#include <cstdio>
#include <string>

namespace saver {
namespace {

struct Ticker {
  uv_loop_t loop;
  uv_timer_t timer;
  std::string path;
  Save how;
  int ticks = 0, left = 0, saved = 0;
  char text[16];
};

void save_sync(Ticker& t) {
  const int fd = ::open(t.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  const int n = std::snprintf(t.text, sizeof t.text, "%d\n", t.ticks);
  (void)!::write(fd, t.text, static_cast<size_t>(n));
  ::fsync(fd);  // waits for the disk, on the loop's thread
  ::close(fd);
  t.saved = t.ticks;
}

// open, write, fsync, close: each on libuv's thread pool, chained.
struct AsyncSave {
  uv_fs_t req;
  Ticker* t;
  uv_file fd = -1;
  uv_buf_t buf;
  int value;
};

void after_close(uv_fs_t* req) {
  auto* s = static_cast<AsyncSave*>(req->data);
  uv_fs_req_cleanup(req);
  s->t->saved = s->value;
  delete s;
}
void after_fsync(uv_fs_t* req) {
  auto* s = static_cast<AsyncSave*>(req->data);
  uv_fs_req_cleanup(req);
  uv_fs_close(&s->t->loop, &s->req, s->fd, after_close);
}
void after_write(uv_fs_t* req) {
  auto* s = static_cast<AsyncSave*>(req->data);
  uv_fs_req_cleanup(req);
  uv_fs_fsync(&s->t->loop, &s->req, s->fd, after_fsync);
}
void after_open(uv_fs_t* req) {
  auto* s = static_cast<AsyncSave*>(req->data);
  s->fd = static_cast<uv_file>(req->result);
  uv_fs_req_cleanup(req);
  if (s->fd < 0) {
    delete s;
    return;
  }
  uv_fs_write(&s->t->loop, &s->req, s->fd, &s->buf, 1, 0, after_write);
}

void save_async(Ticker& t) {
  auto* s = new AsyncSave;
  s->t = &t;
  s->value = t.ticks;
  const int n = std::snprintf(t.text, sizeof t.text, "%d\n", t.ticks);
  s->buf = uv_buf_init(t.text, static_cast<unsigned>(n));
  s->req.data = s;
  uv_fs_open(&t.loop, &s->req, t.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644, after_open);
}

void on_tick(uv_timer_t* timer) {
  auto& t = *static_cast<Ticker*>(timer->data);
  ++t.ticks;
  if (t.ticks % 3 == 0) {
    if (t.how == Save::sync) save_sync(t); else save_async(t);
  }
  if (--t.left == 0) uv_timer_stop(timer);
}

}  // namespace

int run_ticker(const std::string& path, int ticks, Save how) {
  Ticker t;
  t.path = path;
  t.how = how;
  t.left = ticks;
  uv_loop_init(&t.loop);
  uv_timer_init(&t.loop, &t.timer);
  t.timer.data = &t;
  uv_timer_start(&t.timer, on_tick, 5, 5);
  uv_run(&t.loop, UV_RUN_DEFAULT);
  uv_close(reinterpret_cast<uv_handle_t*>(&t.timer), nullptr);
  uv_run(&t.loop, UV_RUN_DEFAULT);
  uv_loop_close(&t.loop);
  return t.saved;
}

}  // namespace saver
