/* Build probe: does oneDNN link? (the Makefile compiles this to decide) */
#include <dnnl.h>
int main(void) { return (int)dnnl_sgemm('N', 'N', 0, 0, 0, 1.f, 0, 1, 0, 1, 0.f, 0, 1); }
