#!/usr/bin/env bash
# Provisions lorafn's workflow with the plain aws CLI against an
# AWS-compatible endpoint: LocalStack (docker compose up in this folder) or
# lorafn's own twin (`lorafn local`). Both listen on 127.0.0.1:4566.
#
#   make lambda                          # the bootstrap zips under dist/
#   AWS_ENDPOINT_URL=http://127.0.0.1:4566 localstack/provision.sh
#
# It creates: the bucket with EventBridge notifications, one function per
# workflow step from the bootstrap zip, the tune state machine (with its
# ${...} substitutions applied here), the upload rule and its Step Functions
# target, and the retraining schedule (disabled unless SCHEDULE_STATE=ENABLED).
# Running it again keeps what exists.
#
# Settings (environment):
#   AWS_ENDPOINT_URL     endpoint (default http://127.0.0.1:4566)
#   BUCKET               bucket name (default lorafn)
#   PREFIX               name prefix of functions, machine, rule, schedule (default lorafn)
#   LAMBDA_ZIP           bootstrap zip (default dist/lambda-<this machine>/bootstrap.zip)
#   LAMBDA_ARCH          x86_64 or arm64 (default: this machine's)
#   SCHEDULE_EXPRESSION  default cron(0 3 ? * SUN *)
#   SCHEDULE_DATASET     default datasets/task/train.jsonl
#   SCHEDULE_STATE       ENABLED or DISABLED (default DISABLED)
#   BATCH_JOB_QUEUE_ARN, BATCH_JOB_DEFINITION_ARN
#                        Batch resources runs routed to Batch use (defaults:
#                        names lorafn local accepts; LocalStack needs a paid plan)
set -euo pipefail
cd "$(dirname "$0")/.."

export AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://127.0.0.1:4566}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}"
export AWS_PAGER=""

BUCKET="${BUCKET:-lorafn}"
PREFIX="${PREFIX:-lorafn}"
case "$(uname -m)" in
  aarch64|arm64) host_arch=arm64; go_arch=arm64 ;;
  *)             host_arch=x86_64; go_arch=amd64 ;;
esac
LAMBDA_ARCH="${LAMBDA_ARCH:-$host_arch}"
if [ "$LAMBDA_ARCH" = arm64 ]; then go_arch=arm64; else go_arch=amd64; fi
LAMBDA_ZIP="${LAMBDA_ZIP:-dist/lambda-$go_arch/bootstrap.zip}"
SCHEDULE_EXPRESSION="${SCHEDULE_EXPRESSION:-cron(0 3 ? * SUN *)}"
SCHEDULE_DATASET="${SCHEDULE_DATASET:-datasets/task/train.jsonl}"
SCHEDULE_STATE="${SCHEDULE_STATE:-DISABLED}"

account=000000000000
region="$AWS_DEFAULT_REGION"
role="arn:aws:iam::$account:role/$PREFIX-local"
machine="$PREFIX-tune"
machine_arn="arn:aws:states:$region:$account:stateMachine:$machine"
BATCH_JOB_QUEUE_ARN="${BATCH_JOB_QUEUE_ARN:-arn:aws:batch:$region:$account:job-queue/$PREFIX}"
BATCH_JOB_DEFINITION_ARN="${BATCH_JOB_DEFINITION_ARN:-arn:aws:batch:$region:$account:job-definition/$PREFIX-train:1}"

if [ ! -f "$LAMBDA_ZIP" ]; then
  echo "provision: $LAMBDA_ZIP not found; run 'make lambda' first" >&2
  exit 1
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "provision: bucket $BUCKET"
if ! out="$(aws s3api create-bucket --bucket "$BUCKET" 2>&1 >/dev/null)" && ! grep -q BucketAlreadyOwnedByYou <<<"$out"; then
  echo "$out" >&2
  exit 1
fi
aws s3api put-bucket-notification-configuration --bucket "$BUCKET" \
  --notification-configuration '{"EventBridgeConfiguration": {}}'

# One function per step; the handler names the step (functions/lambda).
declare -A memory=([validate]=512 [prep]=4096 [train]=10240 [evaluate]=10240 [promote]=1024 [markfailed]=256)
declare -A timeout=([validate]=120 [prep]=900 [train]=900 [evaluate]=900 [promote]=300 [markfailed]=120)
for step in validate prep train evaluate promote markfailed; do
  fn="$PREFIX-$step"
  # Create, and take "already exists" as done: one CLI call per function.
  if out="$(aws lambda create-function --function-name "$fn" --runtime provided.al2023 \
      --architectures "$LAMBDA_ARCH" --handler "$step" --role "$role" \
      --memory-size "${memory[$step]}" --timeout "${timeout[$step]}" \
      --environment "Variables={LORAFN_BUCKET=$BUCKET}" \
      --zip-file "fileb://$LAMBDA_ZIP" 2>&1 >/dev/null)"; then
    echo "provision: function $fn"
  elif grep -q ResourceConflictException <<<"$out"; then
    echo "provision: function $fn exists"
  else
    echo "$out" >&2
    exit 1
  fi
done

# The state machine, with the substitutions CloudFormation would apply.
fn_arn() { echo "arn:aws:lambda:$region:$account:function:$PREFIX-$1"; }
sed -e "s|\${ValidateFunctionArn}|$(fn_arn validate)|g" \
    -e "s|\${PrepFunctionArn}|$(fn_arn prep)|g" \
    -e "s|\${TrainFunctionArn}|$(fn_arn train)|g" \
    -e "s|\${EvaluateFunctionArn}|$(fn_arn evaluate)|g" \
    -e "s|\${PromoteFunctionArn}|$(fn_arn promote)|g" \
    -e "s|\${MarkFailedFunctionArn}|$(fn_arn markfailed)|g" \
    -e "s|\${BatchJobQueueArn}|$BATCH_JOB_QUEUE_ARN|g" \
    -e "s|\${BatchJobDefinitionArn}|$BATCH_JOB_DEFINITION_ARN|g" \
    statemachine/tune.asl.json > "$tmp/tune.json"
if grep -q '\${' "$tmp/tune.json"; then
  echo "provision: unsubstituted \${...} left in the definition:" >&2
  grep -o '\${[A-Za-z]*}' "$tmp/tune.json" | sort -u >&2
  exit 1
fi
# Creating the same definition again returns the existing state machine.
echo "provision: state machine $machine"
aws stepfunctions create-state-machine --name "$machine" --role-arn "$role" \
  --definition "file://$tmp/tune.json" >/dev/null

# Uploads of datasets (not of their lorafn.json) start runs.
echo "provision: rule $PREFIX-upload"
cat > "$tmp/pattern.json" <<JSON
{"source": ["aws.s3"], "detail-type": ["Object Created"],
 "detail": {"bucket": {"name": ["$BUCKET"]},
            "object": {"key": [{"wildcard": "datasets/*.jsonl"}, {"wildcard": "datasets/*.csv"}]}}}
JSON
aws events put-rule --name "$PREFIX-upload" --event-pattern "file://$tmp/pattern.json" >/dev/null
cat > "$tmp/targets.json" <<JSON
[{"Id": "tune", "Arn": "$machine_arn", "RoleArn": "$role",
  "InputTransformer": {
    "InputPathsMap": {"bucket": "\$.detail.bucket.name", "key": "\$.detail.object.key"},
    "InputTemplate": "{\"bucket\": <bucket>, \"key\": <key>, \"source\": \"s3\"}"}}]
JSON
aws events put-targets --rule "$PREFIX-upload" --targets "file://$tmp/targets.json" >/dev/null

# Periodic retraining.
cat > "$tmp/target.json" <<JSON
{"Arn": "$machine_arn", "RoleArn": "$role",
 "Input": "{\"source\": \"schedule\", \"scheduled_time\": \"<aws.scheduler.scheduled-time>\", \"dataset\": \"$SCHEDULE_DATASET\"}"}
JSON
if out="$(aws scheduler create-schedule --name "$PREFIX-retrain" \
    --schedule-expression "$SCHEDULE_EXPRESSION" --state "$SCHEDULE_STATE" \
    --flexible-time-window Mode=OFF --target "file://$tmp/target.json" 2>&1 >/dev/null)"; then
  echo "provision: schedule $PREFIX-retrain ($SCHEDULE_EXPRESSION, $SCHEDULE_STATE)"
elif grep -q ConflictException <<<"$out"; then
  echo "provision: schedule $PREFIX-retrain exists"
else
  echo "$out" >&2
  exit 1
fi
echo "provision: done; state machine $machine_arn"
