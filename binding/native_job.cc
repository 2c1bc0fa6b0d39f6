#include "native_job.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace tz {

namespace {

std::atomic<int> activeJobs{0};

using JsCall = std::function<void(Napi::Env)>;

void CallJs(Napi::Env env, Napi::Function, std::nullptr_t*, JsCall* call) {
  if (env != nullptr && call) (*call)(env);  // env is null when the environment is shutting down
  delete call;
}

using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, JsCall, CallJs>;

enum class Outcome { Ok, Failed, Cancelled };

class NativeJob : public JobContext {
 public:
  explicit NativeJob(Napi::Env env) : env_(env), deferred_(Napi::Promise::Deferred::New(env)) {}

  napi_env env_;
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference onProgress_;
  std::vector<Napi::ObjectReference> keepAlive_;
  Napi::Reference<Napi::Value> callbackError_;
  Tsfn tsfn_;
  std::weak_ptr<NativeJob> self_;

  void progress(uint64_t done, uint64_t total) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = done;
      total_ = total;
      if (queued_) return;  // the queued call will read the newest values
      queued_ = true;
    }
    auto call = new JsCall([self = self_.lock()](Napi::Env env) { self->deliverProgress(env); });
    if (tsfn_.NonBlockingCall(call) != napi_ok) delete call;  // environment shutting down
  }

  // JS thread: settle the promise and drop every reference to JS objects.
  void settle(Napi::Env env, Outcome outcome, const JobResult& result, const std::string& error) {
    Napi::HandleScope scope(env);
    settled_ = true;
    activeJobs--;
    try {
      if (!callbackError_.IsEmpty()) {
        deferred_.Reject(callbackError_.Value());
      } else if (outcome == Outcome::Cancelled) {
        Napi::Error e = Napi::Error::New(env, "The operation was aborted");
        e.Set("name", Napi::String::New(env, "AbortError"));
        e.Set("code", Napi::String::New(env, "ABORT_ERR"));
        deferred_.Reject(e.Value());
      } else if (outcome == Outcome::Failed) {
        deferred_.Reject(Napi::Error::New(env, error).Value());
      } else {
        deferred_.Resolve(result ? result(env) : env.Undefined());
      }
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
    onProgress_.Reset();
    callbackError_.Reset();
    keepAlive_.clear();
    if (teardownHook_) {
      napi_remove_env_cleanup_hook(env_, OnEnvTeardown, teardownHook_);
      delete teardownHook_;
      teardownHook_ = nullptr;
    }
  }

  // When the environment is torn down (a Worker terminated, the process exiting) its typed
  // arrays and this job's thread-safe function are freed. Registered after the thread-safe
  // function, this hook runs before Node finalizes it (hooks run in reverse order): it cancels
  // the job and waits until the job thread is finished with both.
  void watchTeardown() {
    teardownHook_ = new std::shared_ptr<NativeJob>(self_.lock());
    if (napi_add_env_cleanup_hook(env_, OnEnvTeardown, teardownHook_) != napi_ok) {
      delete teardownHook_;
      teardownHook_ = nullptr;
      throw std::runtime_error("could not register an environment cleanup hook");
    }
  }

  void markThreadDone() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      threadDone_ = true;
    }
    threadDoneCv_.notify_all();
  }

  // Called when the environment is gone: references can no longer be released safely.
  void abandon() {
    onProgress_.SuppressDestruct();
    callbackError_.SuppressDestruct();
    for (auto& r : keepAlive_) r.SuppressDestruct();
  }

 private:
  std::mutex mutex_;
  uint64_t done_ = 0, total_ = 0;
  bool queued_ = false;
  bool settled_ = false;  // JS thread only
  bool threadDone_ = false;
  std::condition_variable threadDoneCv_;
  std::shared_ptr<NativeJob>* teardownHook_ = nullptr;  // JS thread only

  static void OnEnvTeardown(void* arg) {
    auto* holder = static_cast<std::shared_ptr<NativeJob>*>(arg);
    NativeJob& job = **holder;
    job.cancel();
    {
      std::unique_lock<std::mutex> lock(job.mutex_);
      job.threadDoneCv_.wait(lock, [&job] { return job.threadDone_; });
    }
    job.abandon();  // the pending completion call will never run; nothing may free JS handles
    job.teardownHook_ = nullptr;
    delete holder;
  }

  void deliverProgress(Napi::Env env) {
    uint64_t done, total;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done = done_;
      total = total_;
      queued_ = false;
    }
    if (settled_ || onProgress_.IsEmpty()) return;
    Napi::HandleScope scope(env);
    try {
      onProgress_.Call({Napi::Number::New(env, double(done)), Napi::Number::New(env, double(total))});
    } catch (const Napi::Error& e) {
      if (callbackError_.IsEmpty()) callbackError_ = Napi::Reference<Napi::Value>::New(e.Value(), 1);
      cancel();
    }
  }
};

}  // namespace

int ActiveJobs() { return activeJobs.load(); }

Napi::Object StartJob(Napi::Env env, JobWork work, JobOptions options) {
  auto job = std::make_shared<NativeJob>(env);
  job->self_ = job;
  if (options.onProgress.IsFunction())
    job->onProgress_ = Napi::Persistent(options.onProgress.As<Napi::Function>());
  else if (!options.onProgress.IsUndefined() && !options.onProgress.IsNull())
    throw Napi::TypeError::New(env, "onProgress must be a function");
  for (auto& o : options.keepAlive) job->keepAlive_.push_back(Napi::Persistent(o));
  job->tsfn_ = Tsfn::New(env, "tensorzip job", 0, 1);

  Napi::Object handle = Napi::Object::New(env);
  handle.Set("promise", job->deferred_.Promise());
  std::weak_ptr<NativeJob> weak = job;
  handle.Set("cancel", Napi::Function::New(env, [weak](const Napi::CallbackInfo&) {
               if (auto j = weak.lock()) j->cancel();
             }));

  activeJobs++;
  try {
    job->watchTeardown();
    std::thread([job, work = std::move(work)] {
      Outcome outcome = Outcome::Ok;
      JobResult result;
      std::string error;
      try {
        job->throwIfCancelled();
        result = work(*job);
      } catch (const JobCancelled&) {
        outcome = Outcome::Cancelled;
      } catch (const std::exception& e) {
        outcome = Outcome::Failed;
        error = e.what();
      } catch (...) {
        outcome = Outcome::Failed;
        error = "unknown native error";
      }
      // A cancel that arrives after the work finished does not turn a result into an error.
      auto* complete = new JsCall([job, outcome, result, error](Napi::Env env) { job->settle(env, outcome, result, error); });
      if (job->tsfn_.BlockingCall(complete) != napi_ok) {
        delete complete;
        job->abandon();
      }
      job->tsfn_.Release();
      job->markThreadDone();
    }).detach();
  } catch (const std::exception& e) {  // no hook or no thread: settle now, keep nothing alive
    job->markThreadDone();
    job->tsfn_.Release();
    job->settle(env, Outcome::Failed, nullptr, std::string("could not start a native job: ") + e.what());
  }
  return handle;
}

}  // namespace tz
