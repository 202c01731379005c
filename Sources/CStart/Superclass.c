// Superclass lookups without the runtime's demangler, in the static executable (scripts/build links it
// with --wrap=swift_getTypeByMangledName, so the runtime's own calls come here first).
//
// Every generic class instantiated at run time has its superclass looked up by mangled name, once per
// class and level. For `_ContiguousArrayStorage<T>`, the storage of every array of a type of the
// program's own, the names are `__ContiguousArrayStorageBase` and
// `__SwiftNativeNSArrayWithContiguousStorage`: a CGI admission made 24 such lookups, each running the
// demangler (about 1,700 instructions and 3 KiB of stack each; 4% of an admission's instructions, and
// cold code and stack pages met nowhere else). Such a name is five bytes: 0x01, then the 32-bit offset
// of the class's context descriptor. For a class that is not generic, the type it names is the one the
// descriptor's access function returns, with no demangling needed, and that is what this answers. Any
// other name goes to the runtime unchanged.
//
// The answer is written the way the runtime writes a found type (Swift 6.3's
// TypeLookupErrorOr<TypeInfo>, returned through the pointer in %rax as the Swift calling convention
// does): metadata at 0, its state at 8, reference ownership (strong: 0) at 16, and the union's tag
// (0: a type, 1: an error) at 24. Tests/e2e/test_start.py checks that a CGI admission never reaches the
// demangler, and that the array storage classes it instantiates get the standard library's superclass.
#if defined(CSTART_STATIC_EXECUTABLE) && defined(__x86_64__)

#include <stddef.h>
#include <stdint.h>

/// The kind of a class context descriptor, and the flag of a generic one (ContextDescriptorFlags).
enum { class_kind = 16, kind_mask = 0x1f, generic_flag = 0x80 };

/// The access function of the class `name` names, when the name is a direct reference to the descriptor
/// of a class that is not generic; NULL for any other name.
const void *CStart_directClassAccessor(const unsigned char *name, size_t length) {
  if (length != 5 || name[0] != 0x01) return NULL;
  int32_t offset;
  __builtin_memcpy(&offset, name + 1, sizeof offset);
  const unsigned char *descriptor = name + 1 + offset;
  uint32_t flags;
  __builtin_memcpy(&flags, descriptor, sizeof flags);
  if ((flags & kind_mask) != class_kind || (flags & generic_flag) != 0) return NULL;
  // TargetTypeContextDescriptor: flags, parent, name, then the access function (relative pointers).
  int32_t access;
  __builtin_memcpy(&access, descriptor + 12, sizeof access);
  if (access == 0) return NULL;
  return descriptor + 12 + access;
}

// swift_getTypeByMangledName(request %rdi, name %rsi, length %rdx, generic arguments %rcx, the two
// substitution functions %r8 and %r9; result through %rax). A found class: its accessor is called with
// the request (a Swift metadata accessor: request in %rdi, metadata and state back in %rax and %rdx) and
// the answer written; anything else: every register as it came, on to the runtime's own function.
__asm__(".text\n"
        ".globl __wrap_swift_getTypeByMangledName\n"
        ".type __wrap_swift_getTypeByMangledName, @function\n"
        "__wrap_swift_getTypeByMangledName:\n"
        "  push %rbp\n"
        "  mov %rsp, %rbp\n"
        "  push %rax\n"  // -8: where the answer goes
        "  push %rdi\n"  // -16: the request
        "  push %rsi\n"
        "  push %rdx\n"
        "  push %rcx\n"
        "  push %r8\n"
        "  push %r9\n"  // -56
        "  sub $8, %rsp\n"
        "  mov %rsi, %rdi\n"
        "  mov %rdx, %rsi\n"
        "  call CStart_directClassAccessor\n"
        "  test %rax, %rax\n"
        "  jz 1f\n"
        "  mov -16(%rbp), %rdi\n"
        "  call *%rax\n"
        "  mov -8(%rbp), %rcx\n"
        "  mov %rax, (%rcx)\n"
        "  mov %rdx, 8(%rcx)\n"
        "  movb $0, 16(%rcx)\n"
        "  movw $0, 24(%rcx)\n"
        "  mov %rcx, %rax\n"
        "  leave\n"
        "  ret\n"
        "1:\n"
        "  mov -56(%rbp), %r9\n"
        "  mov -48(%rbp), %r8\n"
        "  mov -40(%rbp), %rcx\n"
        "  mov -32(%rbp), %rdx\n"
        "  mov -24(%rbp), %rsi\n"
        "  mov -16(%rbp), %rdi\n"
        "  mov -8(%rbp), %rax\n"
        "  leave\n"
        "  jmp __real_swift_getTypeByMangledName\n"
        ".size __wrap_swift_getTypeByMangledName, . - __wrap_swift_getTypeByMangledName\n");

#endif
