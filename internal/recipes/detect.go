package recipes

import "strings"

// IsMapWritingCondition reports whether cond is a second-writer condition
// made by [MapWritingExpr] for any map and either map layout. The session
// uses it to know that the client set such breakpoints, which a crash
// restart serves.
func IsMapWritingCondition(cond string) bool {
	return (strings.Contains(cond, `"internal/runtime/maps.Map")(uintptr(&`) && strings.Contains(cond, ".writing != 0")) ||
		(strings.Contains(cond, `"runtime.hmap")(uintptr(&`) && strings.Contains(cond, ".flags & 4 != 0"))
}
