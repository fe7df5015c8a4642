package twin

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// schedule is an EventBridge Scheduler schedule.
type schedule struct {
	Name                       string         `json:"Name"`
	GroupName                  string         `json:"GroupName"`
	ARN                        string         `json:"Arn"`
	ScheduleExpression         string         `json:"ScheduleExpression"`
	ScheduleExpressionTimezone string         `json:"ScheduleExpressionTimezone,omitempty"`
	State                      string         `json:"State"`
	Description                string         `json:"Description,omitempty"`
	Target                     scheduleTarget `json:"Target"`
	FlexibleTimeWindow         map[string]any `json:"FlexibleTimeWindow"`
	CreationDate               time.Time      `json:"CreationDate"`
	// Next is when the schedule fires next (zero: never again).
	Next time.Time `json:"next"`

	expr *expression
}

type scheduleTarget struct {
	ARN     string `json:"Arn"`
	RoleARN string `json:"RoleArn"`
	Input   string `json:"Input,omitempty"`
}

func (s *schedule) key() string { return s.GroupName + "/" + s.Name }

func (s *schedule) parse() error {
	loc := time.UTC
	if s.ScheduleExpressionTimezone != "" {
		l, err := time.LoadLocation(s.ScheduleExpressionTimezone)
		if err != nil {
			return fmt.Errorf("ScheduleExpressionTimezone %q: %v", s.ScheduleExpressionTimezone, err)
		}
		loc = l
	}
	e, err := parseExpression(s.ScheduleExpression, loc)
	if err != nil {
		return err
	}
	s.expr = e
	return nil
}

func (t *Twin) serveScheduler(w http.ResponseWriter, r *http.Request) {
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, "/schedules"), "/")
	name, _ := url.PathUnescape(rest)
	group := r.URL.Query().Get("groupName")
	if group == "" {
		group = "default"
	}
	var out any
	var err error
	switch {
	case name == "" && r.Method == http.MethodGet:
		out = t.listSchedules()
	case name != "" && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		out, err = t.putSchedule(r, name, r.Method == http.MethodPost)
	case name != "" && r.Method == http.MethodGet:
		out, err = t.getSchedule(name, group)
	case name != "" && r.Method == http.MethodDelete:
		err = t.deleteSchedule(name, group)
		out = map[string]any{}
	default:
		err = notFound("UnknownOperationException", "Scheduler operation %s %s is not supported by lorafn local", r.Method, r.URL.Path)
	}
	if err != nil {
		writeError(w, restJSON, err)
		return
	}
	writeJSON(w, restJSON, http.StatusOK, out)
}

func (t *Twin) putSchedule(r *http.Request, name string, create bool) (any, error) {
	var in schedule
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	in.Name = name
	if in.GroupName == "" {
		in.GroupName = "default"
	}
	if in.State == "" {
		in.State = "ENABLED"
	}
	if in.State != "ENABLED" && in.State != "DISABLED" {
		return nil, badRequest("ValidationException", "schedule %s: State %q: want ENABLED or DISABLED", name, in.State)
	}
	if in.Target.ARN == "" {
		return nil, badRequest("ValidationException", "schedule %s: Target.Arn is required", name)
	}
	if err := in.parse(); err != nil {
		return nil, badRequest("ValidationException", "schedule %s: %v", name, err)
	}
	now := time.Now()
	in.ARN = t.arn("scheduler", "schedule/"+in.GroupName+"/"+name)
	in.CreationDate = now.UTC()
	in.Next = in.expr.next(now)
	t.mu.Lock()
	defer t.mu.Unlock()
	old, exists := t.schedules[in.key()]
	switch {
	case create && exists:
		return nil, errf(http.StatusConflict, "ConflictException", "Schedule %s already exists.", name)
	case !create && !exists:
		return nil, notFound("ResourceNotFoundException", "Schedule %s does not exist.", name)
	case exists:
		in.CreationDate = old.CreationDate
	}
	t.schedules[in.key()] = &in
	if err := t.save(); err != nil {
		return nil, err
	}
	t.logf("schedule %s %s, next %s", in.ARN, in.State, in.Next.Format(time.RFC3339))
	return map[string]string{"ScheduleArn": in.ARN}, nil
}

func (t *Twin) scheduleNamed(name, group string) (*schedule, error) {
	if group == "" {
		group = "default"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.schedules[group+"/"+name]
	if !ok {
		return nil, notFound("ResourceNotFoundException", "Schedule %s does not exist.", name)
	}
	return s, nil
}

func (t *Twin) getSchedule(name, group string) (any, error) {
	s, err := t.scheduleNamed(name, group)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"Name": s.Name, "GroupName": s.GroupName, "Arn": s.ARN, "ScheduleExpression": s.ScheduleExpression,
		"ScheduleExpressionTimezone": s.ScheduleExpressionTimezone, "State": s.State, "Target": s.Target,
		"FlexibleTimeWindow": s.FlexibleTimeWindow, "CreationDate": epoch(s.CreationDate), "Description": s.Description,
	}, nil
}

func (t *Twin) listSchedules() any {
	t.mu.Lock()
	defer t.mu.Unlock()
	list := []map[string]any{}
	for _, s := range t.schedules {
		list = append(list, map[string]any{"Name": s.Name, "GroupName": s.GroupName, "Arn": s.ARN, "State": s.State,
			"Target": map[string]string{"Arn": s.Target.ARN}, "CreationDate": epoch(s.CreationDate)})
	}
	sort.Slice(list, func(i, j int) bool { return list[i]["Name"].(string) < list[j]["Name"].(string) })
	return map[string]any{"Schedules": list}
}

func (t *Twin) deleteSchedule(name, group string) error {
	s, err := t.scheduleNamed(name, group)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.schedules, s.key())
	return t.save()
}

// scheduleLoop fires enabled schedules when they are due.
func (t *Twin) scheduleLoop() {
	defer t.wg.Done()
	tick := time.NewTicker(t.opts.SchedulerTick)
	defer tick.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return
		case now := <-tick.C:
			t.mu.Lock()
			var due []*schedule
			for _, s := range t.schedules {
				if s.State == "ENABLED" && !s.Next.IsZero() && !now.Before(s.Next) {
					due = append(due, s)
				}
			}
			t.mu.Unlock()
			for _, s := range due {
				t.fire(s, s.Next)
				t.mu.Lock()
				s.Next = s.expr.next(now)
				t.save()
				t.mu.Unlock()
			}
		}
	}
}

// fireNow fires a schedule at once, whatever its state and expression.
func (t *Twin) fireNow(name, group string) (string, error) {
	if name == "" {
		return "", badRequest("ValidationException", "name is required (POST /_local/scheduler/fire?name=NAME)")
	}
	s, err := t.scheduleNamed(name, group)
	if err != nil {
		return "", err
	}
	return t.fire(s, time.Now())
}

// fire delivers a schedule's target input with the context attributes
// filled in.
func (t *Twin) fire(s *schedule, at time.Time) (string, error) {
	input := strings.NewReplacer(
		"<aws.scheduler.scheduled-time>", at.UTC().Format(time.RFC3339),
		"<aws.scheduler.execution-id>", fmt.Sprintf("%x", time.Now().UnixNano()),
		"<aws.scheduler.attempt-number>", "1",
		"<aws.scheduler.schedule-arn>", s.ARN,
	).Replace(s.Target.Input)
	if input == "" {
		input = "{}"
	}
	t.logf("schedule %s fires", s.ARN)
	if strings.Contains(s.Target.ARN, ":states:") {
		arn, err := t.StartExecution(s.Target.ARN, "", []byte(input))
		if err != nil {
			t.logf("schedule %s: %v", s.ARN, err)
		}
		return arn, err
	}
	t.deliver(s.Target.ARN, []byte(input))
	return "", nil
}

// expression is a parsed rate(...), at(...) or cron(...) expression.
type expression struct {
	loc   *time.Location
	every time.Duration // rate
	at    time.Time     // one-time
	cron  *cronSpec
}

func parseExpression(src string, loc *time.Location) (*expression, error) {
	e := &expression{loc: loc}
	switch {
	case strings.HasPrefix(src, "rate(") && strings.HasSuffix(src, ")"):
		f := strings.Fields(src[5 : len(src)-1])
		if len(f) != 2 {
			return nil, fmt.Errorf("ScheduleExpression %q: want rate(N unit)", src)
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || n < 1 {
			return nil, fmt.Errorf("ScheduleExpression %q: %q is not a positive whole number", src, f[0])
		}
		unit := map[string]time.Duration{"minute": time.Minute, "minutes": time.Minute, "hour": time.Hour, "hours": time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour}[f[1]]
		if unit == 0 {
			return nil, fmt.Errorf("ScheduleExpression %q: unit %q: want minutes, hours or days", src, f[1])
		}
		e.every = time.Duration(n) * unit
	case strings.HasPrefix(src, "at(") && strings.HasSuffix(src, ")"):
		at, err := time.ParseInLocation("2006-01-02T15:04:05", src[3:len(src)-1], loc)
		if err != nil {
			return nil, fmt.Errorf("ScheduleExpression %q: want at(yyyy-mm-ddThh:mm:ss): %v", src, err)
		}
		e.at = at
	case strings.HasPrefix(src, "cron(") && strings.HasSuffix(src, ")"):
		c, err := parseCron(src[5 : len(src)-1])
		if err != nil {
			return nil, fmt.Errorf("ScheduleExpression %q: %v", src, err)
		}
		e.cron = c
	default:
		return nil, fmt.Errorf("ScheduleExpression %q: want rate(...), cron(...) or at(...)", src)
	}
	return e, nil
}

// next is the first firing time after now; zero when there is none.
func (e *expression) next(now time.Time) time.Time {
	switch {
	case e.every > 0:
		return now.Add(e.every)
	case !e.at.IsZero():
		if e.at.After(now) {
			return e.at
		}
		return time.Time{}
	}
	t := now.In(e.loc).Truncate(time.Minute).Add(time.Minute)
	for limit := t.AddDate(5, 0, 0); t.Before(limit); {
		if !e.cron.fields[3].has(int(t.Month())) || !e.cron.fields[5].has(t.Year()) {
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, e.loc)
			continue
		}
		if !e.cron.dayMatches(t) {
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, e.loc)
			continue
		}
		if !e.cron.fields[1].has(t.Hour()) {
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, e.loc)
			continue
		}
		if e.cron.fields[0].has(t.Minute()) {
			return t
		}
		t = t.Add(time.Minute)
	}
	return time.Time{}
}

// cronSpec is AWS's six-field cron: minutes hours day-of-month month
// day-of-week year, with ? for "any" in one of the two day fields.
type cronSpec struct {
	fields [6]cronField
}

type cronField struct {
	any  bool
	vals map[int]bool
}

func (f cronField) has(v int) bool { return f.any || f.vals[v] }

func (c *cronSpec) dayMatches(t time.Time) bool {
	dom, dow := c.fields[2], c.fields[4]
	// AWS day-of-week is 1-7 for SUN-SAT.
	return dom.has(t.Day()) && dow.has(int(t.Weekday())+1)
}

var cronNames = map[string]int{
	"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
	"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7,
}

func parseCron(src string) (*cronSpec, error) {
	f := strings.Fields(src)
	if len(f) != 6 {
		return nil, fmt.Errorf("want 6 fields (minutes hours day-of-month month day-of-week year), got %d", len(f))
	}
	bounds := [6][2]int{{0, 59}, {0, 23}, {1, 31}, {1, 12}, {1, 7}, {1970, 2199}}
	names := [6]string{"minutes", "hours", "day-of-month", "month", "day-of-week", "year"}
	c := &cronSpec{}
	for i, s := range f {
		field, err := parseCronField(s, bounds[i][0], bounds[i][1])
		if err != nil {
			return nil, fmt.Errorf("%s field %q: %v", names[i], s, err)
		}
		c.fields[i] = field
	}
	if (f[2] == "?") == (f[4] == "?") {
		return nil, fmt.Errorf("exactly one of day-of-month and day-of-week must be ?")
	}
	return c, nil
}

func parseCronField(s string, lo, hi int) (cronField, error) {
	if s == "*" || s == "?" {
		return cronField{any: true}, nil
	}
	f := cronField{vals: map[int]bool{}}
	num := func(x string) (int, error) {
		if v, ok := cronNames[strings.ToUpper(x)]; ok {
			return v, nil
		}
		v, err := strconv.Atoi(x)
		if err != nil || v < lo || v > hi {
			return 0, fmt.Errorf("%q is not a value in %d-%d (L, W and # are not supported by lorafn local)", x, lo, hi)
		}
		return v, nil
	}
	for _, part := range strings.Split(s, ",") {
		rng, stepStr, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			var err error
			if step, err = strconv.Atoi(stepStr); err != nil || step < 1 {
				return cronField{}, fmt.Errorf("step %q is not a positive number", stepStr)
			}
		}
		from, to := lo, hi
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if from, err = num(a); err != nil {
				return cronField{}, err
			}
			if to, err = num(b); err != nil {
				return cronField{}, err
			}
		default:
			v, err := num(rng)
			if err != nil {
				return cronField{}, err
			}
			from = v
			if !hasStep {
				to = v
			}
		}
		if from > to {
			return cronField{}, fmt.Errorf("range %s runs backwards", rng)
		}
		for v := from; v <= to; v += step {
			f.vals[v] = true
		}
	}
	return f, nil
}
