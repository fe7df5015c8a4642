// Package statemachine runs AWS Step Functions state machines written in
// the Amazon States Language (JSONPath dialect) in process, and holds
// lorafn's workflow definition, tune.asl.json (its task contracts are in
// README.md beside this file).
//
// The interpreter exists so that the workflow deployed to Step Functions
// can run unchanged on one machine: in tests, in `lorafn run` and behind
// the local twin's Step Functions API. It therefore follows the service's
// documented semantics rather than a convenient subset of them, and it
// rejects at Parse what it does not implement (UnsupportedFeature) instead
// of ignoring it.
//
// # Use
//
//	m, err := statemachine.Parse(definition, substitutions) // ${Name} replaced
//	m.Resources = handlers                                 // runs Task states
//	m.Clock = statemachine.NewVirtualClock(start)          // optional: no real waiting
//	e, err := m.Start(ctx, "run-1", input)
//	d, err := e.Wait(ctx) // d.Status: SUCCEEDED, FAILED, TIMED_OUT or ABORTED
//
// Task states reach the outside world only through the Resources
// interface; lambda:invoke results are wrapped in the Lambda integration's
// envelope ({"Payload": ..., "StatusCode": 200, ...}), and
// states:startExecution on the machine's own ARN starts a new execution of
// the same Machine (continue-as-new).
//
// # What is implemented
//
// States Task, Pass, Choice, Wait, Succeed, Fail, inline Map and Parallel;
// InputPath, Parameters, ResultSelector, ResultPath, OutputPath and Map's
// ItemsPath, ItemSelector and MaxConcurrency; the context object
// ($$.Execution.{Id,Name,Input,StartTime,RoleArn,RedriveCount},
// $$.State.{Name,EnteredTime,RetryCount}, $$.StateMachine.{Id,Name},
// $$.Map.Item.{Index,Value}); all JSONPath-dialect intrinsic functions;
// every Choice operator with its Path form, And/Or/Not, Is* tests and
// StringMatches; Retry (ErrorEquals, IntervalSeconds, MaxAttempts,
// BackoffRate, MaxDelaySeconds, JitterStrategy) and Catch (ErrorEquals,
// ResultPath, Next); Task TimeoutSeconds(Path) and HeartbeatSeconds(Path)
// (heartbeats are sent with SendHeartbeat); the machine's TimeoutSeconds.
//
// Limits enforced as the service does: 256 KiB for every state input,
// state output, task result and execution input (States.DataLimitExceeded,
// or InvalidExecutionInput at Start); 25,000 history events per execution
// (the execution fails with States.Runtime); 6 MB Lambda responses;
// execution names of 1-80 characters without the forbidden characters
// (InvalidName); a name may not be reused for 90 days, except that starting
// a running execution's name again with the same input returns that
// execution (ExecutionAlreadyExists otherwise).
//
// # Semantics worth knowing
//
//   - ResultPath combines the result with the state's raw input (before
//     InputPath); "ResultPath": null keeps the input and drops the result;
//     "InputPath": null and "OutputPath": null give {}.
//   - A path in Parameters that selects nothing is
//     States.ParameterPathFailure; a ResultPath that cannot be applied is
//     States.ResultPathMatchFailure; a bad InputPath or OutputPath, a
//     missing Choice Variable and similar data errors are States.Runtime,
//     which no retrier or catcher matches.
//   - States.ALL matches every error except States.Runtime and
//     States.DataLimitExceeded; States.TaskFailed matches every error
//     except those and States.Timeout.
//   - The first retrier that matches decides; when its MaxAttempts are used
//     the catchers are consulted. Retry n waits IntervalSeconds ×
//     BackoffRate^(n-1), capped by MaxDelaySeconds, uniformly jittered in
//     [0, delay] with JitterStrategy FULL.
//
// # Known differences from the service
//
//   - JSON objects come out with their keys sorted; the service keeps
//     their order. Values are equal either way.
//   - Type tests (IsNull, IsString, ...) on a missing path fail with
//     States.Runtime, like the comparison operators; a ResultSelector path
//     that selects nothing is States.Runtime.
//   - States.UUID, States.MathRandom and retry jitter draw from a generator
//     seeded by the execution ARN, so a repeated execution repeats them.
//   - History events carry a reduced set of details; event types and
//     counts per state follow the service (an optimized Lambda task is 5
//     events, a .sync job 6, a Choice 2).
//   - Not implemented: JSONata, variables (Assign), distributed Map,
//     ToleratedFailure*, callback tasks (.waitForTaskToken, $$.Task.Token),
//     activities, redrive, Express semantics.
package statemachine
