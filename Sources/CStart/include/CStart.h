// CStart has no API of its own: it is the code that runs before `main` (see each file), and one hook
// into the runtime. Arguments.c hands the Swift runtime argv; in the static executable, Backtracer.c
// keeps the runtime's backtracer out, LibcStart.c starts CGI processes without CPU detection (nor the
// runtime's demangling of one type) and every process without reading glibc's tunables or the
// executable's directory when nothing needs them, and Superclass.c answers the runtime's superclass
// lookups without its demangler. The executable links it; nothing imports it.
