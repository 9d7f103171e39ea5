/*
 * bcryptprimitives.dll for Wine 8, which lacks it: Go's Windows runtime
 * loads it from System32 and calls ProcessPrng for random bytes. This one
 * forwards to RtlGenRandom (advapi32 SystemFunction036). Test use only.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
