// CStart has no API of its own: it is the code that runs before `main` (see each file). Arguments.c
// hands the Swift runtime argv; in the static executable, Backtracer.c keeps the runtime's backtracer
// out and LibcStart.c starts CGI processes without CPU detection (nor glibc's readlink of the
// executable, nor the runtime's demangling of one type). The executable links it; nothing imports it.
