/* The pod sandbox's process (containerd's sandbox_image): holds the pod's namespaces, reaps the
 * orphans it inherits as PID 1 of a shared PID namespace, and exits on SIGINT/SIGTERM.
 * Built static by tools/node/up, so its image is this one file. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) { (void)sig; _exit(0); }

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction act = {0};
  act.sa_handler = stop;
  sigaction(SIGINT, &act, NULL);
  sigaction(SIGTERM, &act, NULL);
  act.sa_handler = reap;
  act.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &act, NULL);
  for (;;) pause();
}
