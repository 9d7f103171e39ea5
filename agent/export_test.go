package agent

// RetryWait is retryWait, for the tests of package agent_test.
var RetryWait = retryWait

// MaxLost is maxLost, for the tests of package agent_test.
const MaxLost = maxLost
